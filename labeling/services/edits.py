"""How much a labeler changed a model suggestion: character-level Levenshtein distance.

The distance is exact up to `MAX_EDIT_CHARS` characters per text: the common prefix and suffix are stripped
(a lightly-edited answer shares most of both), then Myers' bit-parallel algorithm (Hyyrö's formulation for
global distance) runs on Python integers as bit vectors, one column step per character of the longer text:
O(n * m / 64) word operations instead of the O(n * m) of the two-row table. Texts are at most 32,000
characters (the submission limit), which takes well under a second.
"""

MAX_EDIT_CHARS = 20_000


def _bit_parallel(pattern: str, text: str) -> int:
    """Levenshtein distance between `pattern` (non-empty; the shorter one, the bit vectors' width) and `text`."""
    m = len(pattern)
    peq: dict[str, int] = {}
    for i, ch in enumerate(pattern):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in text:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        # Shifting a 1 in: the top row of the table is 0, 1, 2, … (global distance, not substring search).
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def levenshtein(a: str, b: str) -> int:
    """Insertions, deletions and substitutions (one character each) that turn `a` into `b`."""
    start = 0
    shortest = min(len(a), len(b))
    while start < shortest and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if len(a) > len(b):
        a, b = b, a
    if not a:
        return len(b)
    return _bit_parallel(a, b)


def levenshtein_two_rows(a: str, b: str) -> int:
    """The textbook dynamic programme with two rows, O(len(a) * len(b)); the reference the tests check against."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def edit_distance(suggestion: str, text: str, cap: int = MAX_EDIT_CHARS) -> tuple[int, float]:
    """The distance from a suggestion to the submitted text, and it divided by the longer text's length (0 is
    the suggestion kept as is, 1 is nothing kept). Beyond `cap` characters, the rest of the longer text counts
    as written anew (an upper bound), so the cost stays bounded whatever the lengths."""
    distance = levenshtein(suggestion[:cap], text[:cap]) + max(len(suggestion[cap:]), len(text[cap:]))
    longest = max(len(suggestion), len(text))
    return distance, (round(distance / longest, 6) if longest else 0.0)
