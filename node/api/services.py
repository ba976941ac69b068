"""Everything a running node holds, in one typed place that the API handlers read from."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from secondme.node.access.service import AccessService
from secondme.node.chat.service import ChatService
from secondme.node.core.config import DataDir, NodeConfig
from secondme.node.core.db import Database
from secondme.node.groups.service import GroupService
from secondme.node.l2.service import TrainService
from secondme.node.memory.l1.service import L1Service
from secondme.node.memory.service import Memory
from secondme.node.network.service import NetworkService
from secondme.node.p2p.service import P2PService
from secondme.node.people.owner import OwnerStore
from secondme.node.people.peers import PeerStore
from secondme.node.people.roles import RoleStore
from secondme.protocol.identity import Identity


@dataclass(slots=True, kw_only=True)
class NodeServices:
    data_dir: DataDir
    config: NodeConfig
    identity: Identity
    token: str
    db: Database
    memory: Memory
    l1: L1Service
    chat: ChatService
    owner: OwnerStore
    roles: RoleStore
    peers: PeerStore
    p2p: P2PService
    access: AccessService
    network: NetworkService
    groups: GroupService
    l2: TrainService
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    started_at: float = field(default_factory=time.time)
