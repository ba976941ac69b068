import os

import pytest

from secondme.node.config import DataDir, NodeConfig, default_data_dir, load_config, save_config
from secondme.node.errors import ConfigError


def test_round_trip_keeps_every_setting(tmp_path):
    config = (
        NodeConfig()
        .with_changes("api", port=4242)
        .with_changes("p2p", listen=("/ip4/127.0.0.1/tcp/4001",))
        .with_changes("memory", vector_backend="qdrant", qdrant_url="http://127.0.0.1:6333")
        .with_changes("network", record_ttl_s=3 * 3600, refresh_s=600)
        .with_changes("p2p", announce=("/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWexample",))
    )
    path = tmp_path / "config.toml"
    save_config(path, config)
    assert load_config(path) == config
    assert os.stat(path).st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[api]\nport = 'x'\n", "expected int"),
        ("[api]\nprot = 1\n", "unknown setting"),
        ("[nope]\n", "unknown section"),
        ("[memory]\nvector_backend = 'faiss'\n", "choose one of"),
        ("[api\n", "cannot read config"),
        ("[network]\nrecord_ttl_s = 60\n", "between 3600"),
        ("[network]\nrefresh_s = 7200\n", "half of network.record_ttl_s"),
    ],
)
def test_bad_config_names_the_setting(tmp_path, text, message):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_config_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="secondme-node init"):
        load_config(tmp_path / "config.toml")


def test_data_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SECONDME_HOME", str(tmp_path / "elsewhere"))
    assert default_data_dir() == tmp_path / "elsewhere"
    assert DataDir(tmp_path).database == tmp_path / "node.db"
