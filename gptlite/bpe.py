"""Byte pair encoding's merge loop, and decoding ids back to bytes: what every tokenizer in gptlite shares.

Source: Sennrich et al. 2016 ("Neural Machine Translation of Rare Words with Subword Units"), and the loops
of openai/gpt-2 `src/encoder.py`, openai/tiktoken `src/lib.rs` (`byte_pair_merge`) and huggingface/tokenizers
`models/bpe/word.rs` (`merge_all`), which all merge the same pair first: the adjacent pair of lowest rank,
the leftmost of equal ones. What a rank is differs: the line of the pair in a merge list (GPT-1's and GPT-2's
files), or the rank of the token the pair makes (tiktoken's rank files). `merge_by_rank` takes either as a
function.
"""

import codecs
import heapq
import operator
from array import array
from itertools import pairwise, starmap

POSITION_BITS = 32  # merge_by_rank's heap entries are rank << 32 | position: pieces are shorter than 2^31 bytes
POSITION_MASK = (1 << POSITION_BITS) - 1
SHORT_PIECE = 64  # parts up to which merge_by_rank scans a list rather than keeping a heap
NO_RANK = 1 << 62  # merge_by_scan's rank of a pair that does not merge: above every real rank


def bytes_of_token(token_bytes, i):
    """The bytes of token i, if i is an integer (Python's or NumPy's, not a bool or a float) that is an id."""
    if isinstance(i, bool):
        raise ValueError(f"token ids are integers, got {i!r}")
    try:
        i = operator.index(i)
    except TypeError:
        raise ValueError(f"token ids are integers, got {str(i)[:40]!r} ({type(i).__name__})") from None
    if not 0 <= i < len(token_bytes):
        raise ValueError(f"token id {i} is not in [0, {len(token_bytes)})")
    if token_bytes[i] is None:
        raise ValueError(f"no token has the id {i}")
    return token_bytes[i]


def pair_rank_function(pair_ranks, n_vocab):
    """rank_of(left, right) for `merge_by_rank`, from a merge list's {(left id, right id): rank}."""
    keyed = {left * n_vocab + right: rank for (left, right), rank in pair_ranks.items()}  # one int per pair: faster

    def rank_of(left, right):
        return keyed.get(left * n_vocab + right)

    return rank_of


def merge_by_rank(parts, rank_of, merged_ids):
    """Byte pair encoding of one piece: `parts` (a sequence of ints, one token id per byte or character) -> its
    tokens' ids.

    Repeatedly merge the adjacent pair whose `rank_of(left, right)` is lowest (the leftmost of equal ones) into
    the token `merged_ids[rank]`, until no adjacent pair has a rank. This is tiktoken's order, and encoder.py's:
    its loop merges every occurrence of the best pair at once, left to right, which comes to the same, because a
    merge's result only ever pairs at a worse rank than the merge itself (tests/test_tokenizer.py checks this of
    all of GPT-2's 50,000 merges, and compares the loops). A short piece (most words) is merged by scanning a
    list, a long one with a heap: the same merges in the same order, by two routes.
    """
    if len(parts) <= SHORT_PIECE:
        return merge_by_scan(parts, rank_of, merged_ids)
    return merge_by_heap(array("i", iter(parts)), rank_of, merged_ids)  # iter: bytes would be read as raw ints


def merge_by_scan(parts, rank_of, merged_ids):
    """merge_by_rank as tiktoken's byte_pair_merge does it: keep the rank of every adjacent pair in a list, find
    the lowest (C's min and index), merge it and recompute its two neighbours' ranks. O(n^2) for n parts, the
    fastest way for a few dozen."""
    parts = list(parts)
    ranks = [NO_RANK if rank is None else rank for rank in map(rank_of, parts[:-1], parts[1:])]
    while ranks:
        best = min(ranks)
        if best == NO_RANK:
            break
        i = ranks.index(best)
        merged = parts[i] = merged_ids[best]
        del parts[i + 1], ranks[i]
        if i < len(ranks):
            rank = rank_of(merged, parts[i + 1])
            ranks[i] = NO_RANK if rank is None else rank
        if i > 0:
            rank = rank_of(parts[i - 1], merged)
            ranks[i - 1] = NO_RANK if rank is None else rank
    return parts


def merge_by_heap(parts, rank_of, merged_ids):
    """merge_by_rank in O(n log n) for n parts (an int array; used up), however long the piece.

    The candidate pairs wait in a heap, and the parts form a linked list (`after[i]`, `before[i]`: the
    neighbours of part i), so each merge costs O(log n) and a piece of n bytes O(n log n) in all (the scan,
    find the best pair and rebuild the list, is O(n^2): minutes for a 100,000-letter word). Memory is what
    bounds a long piece, so everything is packed: three arrays of 4-byte ints, and a heap of single ints,
    rank << 32 | position: about 50 bytes per byte of the piece (Python tuples and lists took 190).
    """
    n = len(parts)
    after, before = array("i", range(1, n + 1)), array("i", range(-1, n - 1))  # after[i] == n: i is the last
    heap = [rank << POSITION_BITS | i for i, rank in enumerate(starmap(rank_of, pairwise(parts))) if rank is not None]
    heapq.heapify(heap)
    while heap:
        key = heapq.heappop(heap)
        rank, i = key >> POSITION_BITS, key & POSITION_MASK
        j = after[i]
        if j == n or parts[i] < 0 or rank_of(parts[i], parts[j]) != rank:
            continue  # stale: a merge since this entry was pushed changed one of the two parts
        merged = parts[i] = merged_ids[rank]  # merge j into i, and unlink j
        parts[j] = -1
        k = after[i] = after[j]
        h = before[i]
        if k < n:  # the new token's pair with its right neighbour
            before[k] = i
            rank = rank_of(merged, parts[k])
            if rank is not None:
                heapq.heappush(heap, rank << POSITION_BITS | i)
        if h >= 0:  # and with its left neighbour
            rank = rank_of(parts[h], merged)
            if rank is not None:
                heapq.heappush(heap, rank << POSITION_BITS | h)
    return [part for part in parts if part >= 0]


class StreamDecoder:
    """Decodes a stream of token ids. A character whose UTF-8 bytes are split across tokens
    (an emoji is often two or three tokens) comes out once, whole, when its last byte arrives."""

    def __init__(self, token_bytes):
        self._token_bytes = token_bytes
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def __call__(self, token):
        return self._utf8.decode(bytes_of_token(self._token_bytes, token))

    def flush(self):
        """Whatever bytes are left over at the end, as U+FFFD."""
        return self._utf8.decode(b"", final=True)
