"""RFC 9162 proofs for many leaves at once, from the tree's levels kept in flat byte arrays.

callseal.ledger.merkle computes one proof by recursing over a list of leaves (O(n) each);
an export needs a proof per event, so here every level of the tree of the first ``size``
leaves is built once (2 x 32 bytes per leaf: 64 MB for a million events, in bytearrays, not
Python objects) and each proof is O(log² n) lookups. Level k keeps only the perfect,
aligned subtrees of 2^k leaves; every other node RFC 9162's recursion asks for is combined
from them on the fly. Tests check every size up to 70 against callseal.ledger.merkle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

HASH = 32


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


class TreeLevels:
    """The whole tree over ``leaves``; level k holds the perfect subtrees of 2^k leaves."""

    def __init__(self, leaves: Iterable[bytes]) -> None:
        base = bytearray()
        for leaf in leaves:
            if len(leaf) != HASH:
                raise ValueError("a leaf hash is 32 bytes")
            base += leaf
        self.size = len(base) // HASH
        self.levels: list[bytearray] = [base]
        level = base
        while len(level) >= 2 * HASH:
            pairs = len(level) // (2 * HASH)
            upper = bytearray(pairs * HASH)
            for i in range(pairs):
                at = 2 * i * HASH
                upper[i * HASH : (i + 1) * HASH] = _node(
                    bytes(level[at : at + HASH]), bytes(level[at + HASH : at + 2 * HASH])
                )
            self.levels.append(upper)
            level = upper

    def leaf(self, index: int) -> bytes:
        return bytes(self.levels[0][index * HASH : (index + 1) * HASH])

    def range_root(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end); ``start`` is aligned as RFC 9162's recursion makes it."""
        n = end - start
        if n <= 0:
            raise ValueError("empty range")
        if n & (n - 1) == 0 and start % n == 0:
            k = n.bit_length() - 1
            at = (start >> k) * HASH
            return bytes(self.levels[k][at : at + HASH])
        k = _split(n)
        return _node(self.range_root(start, start + k), self.range_root(start + k, end))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 section 2.1.3.1, leaf side first."""
        if not 0 <= index < size <= self.size:
            raise ValueError(f"leaf {index} is outside a tree of size {size}")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                path.append(self.range_root(start + k, end))
                end = start + k
            else:
                path.append(self.range_root(start, start + k))
                start += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) of RFC 9162 section 2.1.4.1."""
        if not 0 < old_size <= new_size <= self.size:
            raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
        return self._subproof(old_size, 0, new_size, complete=True)

    def _subproof(self, m: int, start: int, end: int, *, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self.range_root(start, end)]
        k = _split(n)
        if m <= k:
            return [
                *self._subproof(m, start, start + k, complete=complete),
                self.range_root(start + k, end),
            ]
        return [
            *self._subproof(m - k, start + k, end, complete=False),
            self.range_root(start, start + k),
        ]
