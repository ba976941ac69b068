import os

import pytest

from secondme.node.core.config import (
    DataDir,
    GroupSettings,
    NodeConfig,
    default_data_dir,
    load_config,
    save_config,
)
from secondme.node.core.errors import ConfigError


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


def test_groups_settings_round_trip(tmp_path):
    config = NodeConfig().with_changes(
        "groups",
        turn_timeout_s=45.5,
        max_turn_tokens=300,
        turn_memories=5,
        quote_turns=4,
        temperature=0.7,
        default_rounds=6,
        max_rounds=12,
        raises_per_minute=9,
    )
    path = tmp_path / "config.toml"
    save_config(path, config)
    assert "[groups]" in path.read_text()
    loaded = load_config(path)
    assert loaded == config
    assert loaded.groups.turn_timeout_s == 45.5 and loaded.groups.quote_turns == 4


def test_groups_defaults(tmp_path):
    groups = NodeConfig().groups
    assert groups == GroupSettings()
    assert (
        groups.turn_timeout_s,
        groups.max_turn_tokens,
        groups.turn_memories,
        groups.quote_turns,
        groups.temperature,
        groups.default_rounds,
        groups.max_rounds,
        groups.raises_per_minute,
    ) == (120.0, 120, 3, 0, 0.3, 3, 50, 3)
    path = tmp_path / "config.toml"
    path.write_text("[groups]\n")
    assert load_config(path).groups == GroupSettings()
    path.write_text("[api]\nport = 1\n")
    assert load_config(path).groups == GroupSettings()


def test_groups_integer_timeout_reads_as_seconds(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[groups]\nturn_timeout_s = 30\n")
    timeout = load_config(path).groups.turn_timeout_s
    assert timeout == 30.0 and type(timeout) is float


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[groups]\nturn_timeout_s = 0\n", r"groups\.turn_timeout_s must be between 1 and 3600"),
        ("[groups]\nturn_timeout_s = 3601\n", r"groups\.turn_timeout_s"),
        ("[groups]\ndefault_rounds = 51\n", r"groups\.default_rounds must be between 1 and"),
        ("[groups]\ndefault_rounds = 5\nmax_rounds = 4\n", r"groups\.default_rounds"),
        ("[groups]\ndefault_rounds = 0\n", r"groups\.default_rounds"),
        ("[groups]\nmax_turn_tokens = 8\n", r"groups\.max_turn_tokens must be between 16"),
        ("[groups]\nmax_turn_tokens = 4096\n", r"groups\.max_turn_tokens"),
        ("[groups]\nquote_turns = 40\n", r"groups\.quote_turns must be 0 to 32"),
        ("[groups]\nquote_turns = -1\n", r"groups\.quote_turns"),
        ("[groups]\nturn_memories = 17\n", r"groups\.turn_memories 0 to 16"),
        ("[groups]\nturn_timeout_s = 'soon'\n", r"groups\.turn_timeout_s = 'soon': expected float"),
        ("[groups]\nrounds = 3\n", r"unknown setting\(s\) in \[groups\]: rounds"),
        ("[groups]\ninvites_total = 0\n", r"invites_total, .* at least 1"),
        ("[groups]\nmax_group_bytes = 1024\n", r"groups\.max_group_bytes must be at least 65536"),
        ("[groups]\nmax_peer_bytes = 65536\n", r"at most groups\.max_peer_bytes"),
    ],
)
def test_bad_groups_settings_name_the_key(tmp_path, text, message):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


@pytest.mark.parametrize(
    "changes",
    [
        {"turn_timeout_s": 1.0},
        {"turn_timeout_s": 3600.0},
        {"default_rounds": 50, "max_rounds": 50},
        {"max_turn_tokens": 16},
        {"max_turn_tokens": 2048},
        {"quote_turns": 32, "turn_memories": 16},
        {"quote_turns": 0, "turn_memories": 0},
    ],
)
def test_groups_limits_are_inclusive(tmp_path, changes):
    config = NodeConfig().with_changes("groups", **changes)
    path = tmp_path / "config.toml"
    save_config(path, config)
    assert load_config(path) == config
