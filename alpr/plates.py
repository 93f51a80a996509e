"""Plate-text rules shared by every service: normalizing, confusable keys, format patterns.

A plate read is compared in three ways across the platform:

* `normalize(text)` is the canonical form stored in messages: upper case, only A-Z and
  0-9 (spaces, dashes, dots and the like are decoration on the metal, not part of the
  registration).
* `confusable_key(text)` folds the characters an OCR model (or a human) mixes up, so that
  fuzzy matching (a session's entry read against its exit read, a read against a permit)
  treats "8ABC123" and "BABC1Z3" as the same vehicle. Two reads with equal keys are a
  candidate match; the caller decides with its own evidence (time, lane, confidence).
* `correct_format(text, confidences)` is the reader's format-aware correction: when a read
  fits one of the known plate patterns after swapping confusable letters and digits, the
  swaps are applied (a "0" where the pattern wants a letter becomes "O"). The cost of a
  fit is the summed confidence of the characters it swaps (1 each without confidences),
  so the pattern that only touches doubtful characters wins. A read that already fits a
  pattern, fits none, or fits several at the same lowest cost is left alone: vanity plates
  are free text, and guessing would turn a right read into a wrong one.

The rule, written out: the confusable groups are {O, Q, D, 0}, {I, L, 1}, {B, 8}, {S, 5},
{Z, 2}, {G, 6}. Patterns are strings of `A` (a letter), `9` (a digit) and literal
characters; see `PATTERNS`.

* `round_character(text, region)` writes the round character of a US plate as the digit 0.
  Most US plates print O and 0 with one glyph, so no reader (and no person) can tell them
  apart, and the reference data writes 0 (`C0UGAR`, `0LDGRL`, the convention of the public
  US benchmark), also where a US serial format has a letter (`0RZ466`, `A075307`: AAA999 and
  AAA9999 with 0 in letter positions). Until 2026-12-08 a read fitting a US serial format with
  its O in a letter position kept the O (`ORZ466`); the reference data holds three such plates
  written with 0 (`0RZ466`, `A000956`, `A075307`) and one with O (`778AOS`), so the exception
  was dropped: plates-us-ocr-val 358 -> 358 of 381, the US composites +1 or +2 plates on each of
  seven sets (two seeds at 50-70 px, three of the current generator, two rendered before it),
  the synthetic, Argentine and Romanian sets unchanged (docs/benchmarks-models.md). The rule
  runs one way: a 0 in a letter position is left as the reader wrote it. Turning those into O
  (the first fitting format deciding) was measured and dropped: plates-us-ocr-val 93.96% ->
  92.9% with the CCT reader, the synthetic HARD set's vote 95.3% -> 95.0% (several formats
  fit one text, e.g. GF01444 is AA99999 and, with an O, AAA9999). I and 1 are left alone:
  US fonts do tell them apart (a serif or a flag), and readers rarely confuse them. Other
  regions keep O: Argentine and Brazilian serials have it in letter positions. Measured on
  plates-us-ocr-val (CCT-XS v2 reader): 85.8% -> 89.8% exact; unchanged on plates-ar-ocr.
* `round_unpatterned(text, region)` writes the round character as 0 in a read that fits none
  of `PATTERNS`: a serial format tells O from 0, free text does not. The default reader
  (services/recognizer/models/fusion.FallbackReader) applies it beyond the United States
  because the CCT reader's region head puts US vanity plates (DOG, ZOOM, R0CK) in Australia,
  New Zealand or Unknown, where `round_character` leaves their O; it is limited to those
  regions (`FREE_TEXT_ROUND_REGIONS`), since a European or Brazilian serial of a format not
  listed here may have the letter O (Brazil's Mercosur OBR1C23, Romania's OT 12 ABC). Applied
  to every region without the pattern check it cost plates-ar-ocr 4 of 147 crops (Argentine
  serials have O letters); with it, 143 of 147 as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# Each group folds to its digit: digits are what state formats put in most positions, and
# a key made of the digit keeps keys short to read in logs.
CONFUSABLE_GROUPS: tuple[tuple[str, str], ...] = (
    ("OQD", "0"),
    ("IL", "1"),
    ("B", "8"),
    ("S", "5"),
    ("Z", "2"),
    ("G", "6"),
)

_KEY_TABLE = str.maketrans({c: digit for letters, digit in CONFUSABLE_GROUPS for c in letters})

# Which letter a digit was most likely misread from, when the pattern demands a letter.
LETTER_FOR_DIGIT: dict[str, str] = {"0": "O", "1": "I", "8": "B", "5": "S", "2": "Z", "6": "G"}
# Which digit a letter was most likely misread from, when the pattern demands a digit.
DIGIT_FOR_LETTER: dict[str, str] = {
    "O": "0",
    "Q": "0",
    "D": "0",
    "I": "1",
    "L": "1",
    "B": "8",
    "S": "5",
    "Z": "2",
    "G": "6",
}

# Known plate layouts, by name. `A` is a letter, `9` a digit. The US list covers the
# common sequential formats; dealer and temporary plates have their own series.
PATTERNS: dict[str, str] = {
    "us-7-california": "9AAA999",  # 8ABC123
    "us-7-letters-first": "AAA9999",  # ABC1234 (NY, PA, TX, GA ...)
    "us-6-letters-first": "AAA999",  # ABC123 (older issues, many states)
    "us-6-digits-first": "999AAA",  # 123ABC
    "us-7-two-letters": "AA99999",  # AB12345
    "us-dealer": "9999AA",  # 1234DL style dealer series
    "us-temporary": "99A9999",  # 12T3456 paper temporary tags
    "ar-mercosur": "AA999AA",  # AD054JI (Argentina, Mercosur layout)
}

_STRIP = re.compile(r"[^A-Z0-9]")


def normalize(text: str) -> str:
    """Canonical plate text: upper case, letters and digits only ("8abc-123 " -> "8ABC123")."""
    return _STRIP.sub("", text.upper())


US_REGION = "United States"


def round_character(text: str, region: str | None) -> str:
    """The round character of a US plate written as 0 (see the module docstring), wherever it
    stands; other regions unchanged."""
    if region != US_REGION or "O" not in text:
        return text
    return text.replace("O", "0")


# The regions whose free-text reads `round_unpatterned` writes with 0: the United States and
# the regions the CCT's region head puts US vanity plates in (measured on the synthetic tuning
# sets: Australia, New Zealand, Unknown; Canada prints O and 0 alike too), and no region named.
# Elsewhere a serial format not in PATTERNS may have the letter O: Brazil's Mercosur AAA9A99,
# Romania's and the United Kingdom's AA99AAA.
FREE_TEXT_ROUND_REGIONS = frozenset({US_REGION, "Canada", "Australia", "New Zealand", "Unknown"})
# The regions whose serials `PATTERNS` holds (the United States, Argentina) and those the CCT's
# region head puts US plates in: where `correct_format` may fit a read to a pattern. Elsewhere it
# forces a US format on a foreign serial (the Romanian B 37 RYO read as 837RYO, US 999AAA).
PATTERN_REGIONS = FREE_TEXT_ROUND_REGIONS | {"Argentina"}


def round_unpatterned(text: str, region: str | None = None) -> str:
    """`text` with O written 0 when it fits none of `PATTERNS` and `region` is None or one of
    `FREE_TEXT_ROUND_REGIONS` (see the module docstring): `round_character` for the United
    States, applied to the reads that no serial format claims."""
    if "O" not in text or pattern_of(text) is not None:
        return text
    if region is not None and region not in FREE_TEXT_ROUND_REGIONS:
        return text
    return text.replace("O", "0")


def confusable_key(text: str) -> str:
    """Fold confusable characters so that reads differing only by them compare equal.

    >>> confusable_key("8ABC-123") == confusable_key("BAB C1Z3")
    True
    """
    return normalize(text).translate(_KEY_TABLE)


def fits(text: str, pattern: str) -> bool:
    """True when normalized `text` matches `pattern` exactly (no swaps)."""
    text = normalize(text)
    if len(text) != len(pattern):
        return False
    return all(_slot_ok(c, p) for c, p in zip(text, pattern))


def _slot_ok(char: str, slot: str) -> bool:
    if slot == "A":
        return char.isalpha()
    if slot == "9":
        return char.isdigit()
    return char == slot


def _fit_cost(text: str, pattern: str, weights: Sequence[float]) -> tuple[float, int, str] | None:
    """Weighted cost and count of the swaps that make `text` fit `pattern`, and the result."""
    if len(text) != len(pattern):
        return None
    out: list[str] = []
    cost, swaps = 0.0, 0
    for char, slot, weight in zip(text, pattern, weights):
        if _slot_ok(char, slot):
            out.append(char)
            continue
        if slot == "A" and char in LETTER_FOR_DIGIT:
            out.append(LETTER_FOR_DIGIT[char])
        elif slot == "9" and char in DIGIT_FOR_LETTER:
            out.append(DIGIT_FOR_LETTER[char])
        else:
            return None
        cost += weight
        swaps += 1
    return cost, swaps, "".join(out)


def correct_format(text: str, confidences: Sequence[float] | None = None, patterns: Iterable[str] | None = None) -> str:
    """Apply the format-aware confusable correction described in the module docstring.

    `confidences` (one per character of the normalized text, e.g. a reader's) make a swap
    of a doubtful character cheaper than a swap of a sure one. Returns the normalized text,
    corrected only when exactly one result has the lowest cost.
    """
    text = normalize(text)
    weights = list(confidences) if confidences is not None and len(confidences) == len(text) else [1.0] * len(text)
    candidates: list[tuple[float, str]] = []
    for pattern in PATTERNS.values() if patterns is None else patterns:
        fitted = _fit_cost(text, pattern, weights)
        if fitted is not None:
            if fitted[1] == 0:
                return text
            candidates.append((fitted[0], fitted[2]))
    if not candidates:
        return text
    best = min(cost for cost, _ in candidates)
    results = {fixed for cost, fixed in candidates if cost <= best + 1e-9}
    return results.pop() if len(results) == 1 else text


def pattern_of(text: str) -> str | None:
    """Name of the first pattern that `text` fits exactly, or None (vanity / unknown)."""
    for name, pattern in PATTERNS.items():
        if fits(text, pattern):
            return name
    return None


def edit_distance(a: str, b: str, limit: int = 1) -> int:
    """Levenshtein distance, stopping early once it exceeds `limit` (plates are short): how many
    misread characters apart two reads are, for fuzzy matching beyond confusable characters."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def align(a: str, b: str) -> list[tuple[int | None, int | None]]:
    """One minimal edit alignment of `a` and `b`, in order: (i, j) pairs a character of each
    (equal or substituted), (i, None) a character of `a` left out of `b`, (None, j) one
    inserted. Ties take the substitution, then the deletion (one rule for the plate vote
    and for `alpr eval`'s character errors)."""
    n, m = len(a), len(b)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        cost[i][0] = i
    for j in range(m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(cost[i - 1][j] + 1, cost[i][j - 1] + 1, cost[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (a[i - 1] != b[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def _alignment(anchor: str, text: str) -> list[int | None]:
    """For each character of `text`, the position of `anchor` it stands for (None: inserted)."""
    placed: list[int | None] = [None] * len(text)
    for i, j in align(anchor, text):
        if j is not None:
            placed[j] = i
    return placed


def vote_plate(reads: Sequence[tuple[str, Sequence[float]]]) -> tuple[str, tuple[float, ...]]:
    """One plate from several reads of the same plate (the frames of one vehicle), character by
    character, weighted by each character's confidence.

    Each length the reads have proposes a plate: its most confident read is the anchor, every
    read is aligned to it (a read one character short or long still votes on the others), and
    each position takes the character with the largest summed confidence. The proposal that
    agrees best with all the reads (each read's weakest-character confidence times its share of
    characters in common) wins, so one loud read that dropped a character does not shorten the
    plate. A position's confidence is the winner's best confidence times its share of all that
    was voted there (reads that left the position out vote for nothing): a split vote lowers it.
    One read returns itself."""
    usable = [(t, c if len(c) == len(t) else [min(c, default=0.0)] * len(t)) for t, c in reads if t]
    if not usable:
        return "", ()
    first = usable[0][0]
    if all(t == first for t, _ in usable):
        # The common case (every frame read the same text), on the hot path of every read:
        # what the alignment would give, without it.
        return first, tuple(round(max(column), 4) for column in zip(*(c for _, c in usable)))
    proposals = []
    for length in sorted({len(t) for t, _ in usable}):
        anchor = max((r for r in usable if len(r[0]) == length), key=lambda r: min(r[1], default=0.0))[0]
        proposals.append(_vote_on(anchor, usable))

    def agreement(text: str) -> float:
        return sum(
            min(c, default=0.0) * max(0.0, 1 - edit_distance(text, t, len(text) + len(t)) / max(len(text), 1))
            for t, c in usable
        )

    return max(proposals, key=lambda p: (agreement(p[0]), len(p[0])))


def _vote_on(anchor: str, usable: Sequence[tuple[str, Sequence[float]]]) -> tuple[str, tuple[float, ...]]:
    length = len(anchor)
    votes: list[dict[str, list[float]]] = [{} for _ in range(length)]
    cover = [0.0] * length  # confidence of every read at each position, gaps included
    for text, confs in usable:
        placed = _alignment(anchor, text)
        seen = set()
        for char, conf, pos in zip(text, confs, placed):
            if pos is None:
                continue
            votes[pos].setdefault(char, []).append(conf)
            cover[pos] += conf
            seen.add(pos)
        missing = min(confs, default=0.0)
        for pos in range(length):
            if pos not in seen:
                cover[pos] += missing  # this read says there is no character here
    chars, confidences = [], []
    for pos in range(length):
        if not votes[pos]:
            continue
        char, support = max(votes[pos].items(), key=lambda kv: (sum(kv[1]), max(kv[1])))
        chars.append(char)
        confidences.append(round(max(support) * sum(support) / cover[pos], 4) if cover[pos] else 0.0)
    return "".join(chars), tuple(confidences)
