"""The arithmetic of ledger checkpoints (docs/ledger.md): a Merkle tree hash over chain heads, and its signature.

The tree is RFC 6962's (Certificate Transparency): a leaf is SHA-256 of 0x00 and the leaf's bytes, a node
SHA-256 of 0x01 and its two children, the left subtree the largest power of two; the empty tree is SHA-256 of
nothing. ``MerkleRoot`` folds leaves in one at a time and keeps only one subtree per level (memory grows with the
log of the number of chains, not with it).
"""

import hashlib
import hmac
import json
from datetime import datetime


def head_leaf(customer_id: int, sequence: int, hash_: str) -> bytes:
    return f"{customer_id}:{sequence}:{hash_}".encode()


class MerkleRoot:
    def __init__(self) -> None:
        self._subtrees: list[tuple[int, bytes]] = []  # (leaves, hash), strictly shrinking sizes
        self.leaves = 0

    def add(self, leaf: bytes) -> None:
        size, node = 1, hashlib.sha256(b"\x00" + leaf).digest()
        while self._subtrees and self._subtrees[-1][0] == size:
            _, left = self._subtrees.pop()
            size, node = 2 * size, _node(left, node)
        self._subtrees.append((size, node))
        self.leaves += 1

    def hexdigest(self) -> str:
        if not self._subtrees:
            return hashlib.sha256(b"").hexdigest()
        node = self._subtrees[-1][1]
        for _, left in reversed(self._subtrees[:-1]):
            node = _node(left, node)
        return node.hex()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def signed_bytes(*, taken_at: datetime, customers: int, events: int, root: str) -> bytes:
    """What the signature covers: canonical JSON, as for ledger events."""
    body = {"taken_at": taken_at.isoformat(), "customers": customers, "events": events, "root": root}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(message: bytes, key: str) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
