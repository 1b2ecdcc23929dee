"""The ZooKeeper data tree: znodes, their stat, and the deterministic application of transactions.

Rules (Hunt et al. 2010, section 2.1 "Service overview"; the course notes, "Zookeeper数据模型"):

- The namespace is a tree of *znodes* named by absolute paths (``/app/lock/n-0000000003``). Every
  znode holds a little data and a :class:`Stat`: ``czxid`` (the zxid of the transaction that
  created it), ``mzxid`` (of the last change), ``version`` (number of data changes), ``cversion``
  (number of changes to its children: creations and deletions) and ``ephemeral_owner`` (the
  session of an ephemeral node).
- Four kinds: persistent, ephemeral (deleted when its session ends; it cannot have children),
  and the sequential variants of both, whose name gets a ten-digit suffix: the number of
  children ever created under the parent before it, so the suffixes grow in the order the
  creations were committed. Deletions do not count (checked against ZooKeeper 3.8: create,
  delete, create gives ``n-0000000000`` then ``n-0000000001``), although the parent's
  ``cversion``, which counts every change to its children, does count them (it is 3 there).
- Every operation belongs to a session: once ``CloseSession`` has been applied (the session
  expired or was closed), every further operation of that session fails with
  ``session_expired``, everywhere (ZooKeeper's SESSIONEXPIRED).
- ``delete`` and ``set_data`` take an expected ``version`` (``-1``: any), a compare-and-set.
- A transaction is applied by every server, in zxid order, to identical trees: the outcome
  (including errors such as ``node_exists``) is the same everywhere, so the server the client is
  connected to can answer the client from its own copy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dslab.zk.messages import (
    CloseSession,
    Create,
    CreateSession,
    Delete,
    SetData,
    Txn,
)


class ZkError(Exception):
    """A definite failure of an operation, named as in ZooKeeper's KeeperException codes."""

    def __init__(self, code: str, path: str = "") -> None:
        super().__init__(f"{code}: {path}")
        self.code = code
        self.path = path


@dataclass(frozen=True, slots=True)
class Stat:
    """A znode's metadata (the subset of ZooKeeper's Stat this lab uses)."""

    czxid: int
    mzxid: int
    version: int = 0
    cversion: int = 0
    ephemeral_owner: str | None = None
    num_children: int = 0


@dataclass(slots=True)
class Znode:
    data: Any
    stat: Stat
    children: set[str]
    created_children: int = 0  # the sequence counter of sequential children


def parent_of(path: str) -> str:
    head = path.rsplit("/", 1)[0]
    return head or "/"


def check_path(path: Any) -> str:
    if not isinstance(path, str):
        raise TypeError(f"path={path!r} has type {type(path).__name__}; expected str")
    if not path.startswith("/") or (path != "/" and path.endswith("/")) or "//" in path:
        raise ValueError(
            f"path={path!r} is not a valid znode path; use '/a/b' (absolute, no '/' at the end)"
        )
    return path


class DataTree:
    """One server's copy of the tree, plus the table of live sessions (``sessions``)."""

    def __init__(self) -> None:
        self.nodes: dict[str, Znode] = {"/": Znode(None, Stat(0, 0), set())}
        self.sessions: dict[str, float] = {}  # session id -> timeout_ms
        self.closed_sessions: set[str] = set()
        self.last_zxid = 0

    # -- reads -------------------------------------------------------------------------------
    def get(self, path: str) -> tuple[Any, Stat]:
        node = self.nodes.get(path)
        if node is None:
            raise ZkError("no_node", path)
        return node.data, self._stat(node)

    def exists(self, path: str) -> Stat | None:
        node = self.nodes.get(path)
        return None if node is None else self._stat(node)

    def children(self, path: str) -> list[str]:
        node = self.nodes.get(path)
        if node is None:
            raise ZkError("no_node", path)
        return sorted(node.children)

    def ephemerals(self, session: str) -> list[str]:
        return sorted(p for p, n in self.nodes.items() if n.stat.ephemeral_owner == session)

    def snapshot(self) -> dict[str, Any]:
        """Every znode's path -> (data, czxid, mzxid, version), for convergence checks."""
        return {
            p: (n.data, n.stat.czxid, n.stat.mzxid, n.stat.version)
            for p, n in sorted(self.nodes.items())
        }

    @staticmethod
    def _stat(node: Znode) -> Stat:
        return replace(node.stat, num_children=len(node.children))

    # -- writes ------------------------------------------------------------------------------
    def apply(self, zxid: int, txn: Txn) -> tuple[Any, list[tuple[str, str]]]:
        """Apply committed transaction ``txn`` with id ``zxid``.

        Returns ``(result, changes)``: the result for the client (or a :class:`ZkError`
        instance) and the list of ``(path, event)`` changes for watches, where event is
        ``created``, ``deleted``, ``changed`` or ``children``.
        """
        self.last_zxid = zxid
        op = txn.op
        try:
            if not isinstance(op, CreateSession) and txn.session not in self.sessions:
                raise ZkError("session_expired", txn.session)
            if isinstance(op, Create):
                return self._create(zxid, op, txn.session)
            if isinstance(op, Delete):
                return self._delete(zxid, op.path, op.version)
            if isinstance(op, SetData):
                return self._set(zxid, op)
            if isinstance(op, CreateSession):
                self.sessions[txn.session] = op.timeout_ms
                self.closed_sessions.discard(txn.session)
                return txn.session, []
            if isinstance(op, CloseSession):
                changes: list[tuple[str, str]] = []
                for path in self.ephemerals(txn.session):
                    changes += self._delete(zxid, path, -1)[1]
                self.sessions.pop(txn.session, None)
                self.closed_sessions.add(txn.session)
                return txn.session, changes
        except ZkError as err:
            return err, []
        raise TypeError(f"unknown transaction op {op!r}")

    def _create(self, zxid: int, op: Create, session: str) -> tuple[str, list[tuple[str, str]]]:
        parent_path = parent_of(op.path)
        parent = self.nodes.get(parent_path)
        if parent is None:
            raise ZkError("no_node", parent_path)
        if parent.stat.ephemeral_owner is not None:
            raise ZkError("no_children_for_ephemerals", parent_path)
        path = op.path
        if op.sequential:
            path = f"{op.path}{parent.created_children:010d}"
        if path in self.nodes:
            raise ZkError("node_exists", path)
        owner = session if op.ephemeral else None
        self.nodes[path] = Znode(op.data, Stat(zxid, zxid, 0, 0, owner), set())
        parent.children.add(path.rsplit("/", 1)[1])
        parent.created_children += 1
        parent.stat = replace(parent.stat, cversion=parent.stat.cversion + 1)
        return path, [(path, "created"), (parent_path, "children")]

    def _delete(self, zxid: int, path: str, version: int) -> tuple[str, list[tuple[str, str]]]:
        node = self.nodes.get(path)
        if node is None or path == "/":
            raise ZkError("no_node", path)
        if version != -1 and version != node.stat.version:
            raise ZkError("bad_version", path)
        if node.children:
            raise ZkError("not_empty", path)
        del self.nodes[path]
        parent_path = parent_of(path)
        parent = self.nodes[parent_path]
        parent.children.discard(path.rsplit("/", 1)[1])
        parent.stat = replace(parent.stat, cversion=parent.stat.cversion + 1)
        return path, [(path, "deleted"), (parent_path, "children")]

    def _set(self, zxid: int, op: SetData) -> tuple[Stat, list[tuple[str, str]]]:
        node = self.nodes.get(op.path)
        if node is None:
            raise ZkError("no_node", op.path)
        if op.version != -1 and op.version != node.stat.version:
            raise ZkError("bad_version", op.path)
        node.data = op.data
        node.stat = replace(node.stat, mzxid=zxid, version=node.stat.version + 1)
        return self._stat(node), [(op.path, "changed")]
