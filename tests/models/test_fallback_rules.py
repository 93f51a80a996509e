"""The fallback reader's rules of 2026-12-03 (fusion.FallbackReader): A, the margin take; B, the
recheck of fairly sure primary reads; C, the round character of reads that fit no serial format;
and of 2026-12-04: D, the fallback's format correction only where the region has the patterns;
and of 2026-12-07: E, the fallback's takes outside its regions only for the plates it knows.

The readers here answer each crop by its first pixel (the crop's key) and record which keys
they were asked about; each rule's test also runs the reader with that rule off, and shows
the read it would have kept. The figures behind the values are in docs/benchmarks-models.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from alpr.plates import round_unpatterned
from services.recognizer.models.fusion import FallbackReader
from services.recognizer.models.protocols import TextRead


class Keyed:
    """A reader that answers crop k with answers[k] = (text, confidence[, region])."""

    def __init__(self, name: str, answers: dict[int, tuple]):
        self.name, self.answers, self.seen = name, answers, []

    def read(self, crops):
        keys = [int(c[0, 0, 0]) for c in crops]
        self.seen.append(keys)
        out = []
        for k in keys:
            text, conf, *region = self.answers[k]
            out.append(TextRead(text, conf, (conf,) * len(text), region[0] if region else None))
        return out

    def warmup(self):
        pass


def crops(*keys: int) -> list[np.ndarray]:
    return [np.full((4, 4, 3), k, np.uint8) for k in keys]


OFF_A = {"margin": None}
OFF_B = {"recheck_below": 0.98}
OFF_C = {"round_free_text": False}


def test_the_defaults_are_the_chosen_values_and_the_name_is_unchanged():
    reader = FallbackReader(Keyed("cct", {}), Keyed("crnn", {}))
    assert (reader.below, reader.at_least) == (0.98, 0.95)
    assert (reader.margin, reader.margin_at_least) == (0.2, 0.5)
    assert (reader.recheck_below, reader.recheck_at_least) == (0.995, 0.999)
    assert reader.round_free_text is True
    assert reader.name == "fallback(cct|crnn)"  # weights/calibration.json is keyed by it


def test_rule_a_takes_a_fallback_read_far_surer_than_a_doubtful_primary():
    primary = Keyed("cct", {1: ("ABC12", 0.55), 2: ("XYZ", 0.6), 3: ("KLM", 0.2), 4: ("PQR", 0.65)})
    second = Keyed("crnn", {1: ("ABC123", 0.9), 2: ("XY2", 0.75), 3: ("KLN", 0.45), 4: ("PQB", 0.9)})
    reads = FallbackReader(primary, second).read(crops(1, 2, 3, 4))
    # 0.9 >= 0.55 + 0.2 (and >= 0.5): taken, though under at_least (0.95).
    # 0.75 is only 0.15 surer than 0.6; 0.45 is 0.25 surer than 0.2 but under 0.5: kept.
    # 0.9 against 0.65: taken.
    assert [r.text for r in reads] == ["ABC123", "XYZ", "KLM", "PQB"]
    assert reads[0].confidence == 0.9
    without = FallbackReader(primary, second, **OFF_A).read(crops(1, 2, 3, 4))
    assert [r.text for r in without] == ["ABC12", "XYZ", "KLM", "PQR"]


def test_rule_a_applies_only_below_below():
    # A primary read at 0.985 is rechecked (rule B), but a 0.999-short fallback read is no
    # take there, however much surer it is.
    primary = Keyed("cct", {1: ("ABC12", 0.985)})
    second = Keyed("crnn", {1: ("ABC123", 0.998)})
    (read,) = FallbackReader(primary, second, margin=0.01).read(crops(1))
    assert read.text == "ABC12"


def test_rule_b_rechecks_fairly_sure_primary_reads_and_takes_a_near_certain_fallback():
    primary = Keyed("cct", {1: ("77851P", 0.99), 2: ("ABC1234", 0.985), 3: ("DEF5678", 0.995), 4: ("GHJ123", 0.999)})
    second = Keyed("crnn", {1: ("7785IP", 0.9995), 2: ("ABC1Z34", 0.998), 3: ("DEF5679", 1.0), 4: ("GHJ128", 1.0)})
    reader = FallbackReader(primary, second)
    reads = reader.read(crops(1, 2, 3, 4))
    assert second.seen == [[1, 2]]  # 0.995 and above: not asked
    assert [r.text for r in reads] == ["7785IP", "ABC1234", "DEF5678", "GHJ123"]  # 0.998 < 0.999: kept
    second.seen.clear()
    without = FallbackReader(primary, second, **OFF_B).read(crops(1, 2, 3, 4))
    assert second.seen == [] and without[0].text == "77851P"


def test_rule_b_takes_the_primarys_region_and_round_character_rule():
    primary = Keyed("cct", {1: ("J0V", 0.99, "United States")})
    (read,) = FallbackReader(primary, Keyed("crnn", {1: ("JOY", 0.9999)})).read(crops(1))
    assert (read.text, read.region) == ("J0Y", "United States")


def test_rule_c_writes_the_round_character_of_free_text_as_0_in_any_region():
    primary = Keyed(
        "cct",
        {
            1: ("ROCK", 0.999, "Australia"),  # a US vanity plate the region head put elsewhere
            2: ("ZOOM", 0.999, "New Zealand"),
            3: ("ORZ466", 0.999, "Australia"),  # fits AAA999: a serial, its O is a letter
            4: ("AO054JI", 0.999, "Argentina"),  # fits AA999AA (Mercosur)
        },
    )
    second = Keyed("crnn", {})
    reads = FallbackReader(primary, second).read(crops(1, 2, 3, 4))
    assert [r.text for r in reads] == ["R0CK", "Z00M", "ORZ466", "AO054JI"]
    assert second.seen == []  # sure reads: the fallback is not asked, the rule still applies
    assert reads[0].char_confidences == (0.999,) * 4 and reads[0].region == "Australia"
    without = FallbackReader(primary, second, **OFF_C).read(crops(1, 2, 3, 4))
    assert [r.text for r in without] == ["ROCK", "ZOOM", "ORZ466", "AO054JI"]


def test_rule_c_applies_to_a_fallback_read_taken_for_a_non_us_primary():
    primary = Keyed("cct", {1: ("D0C", 0.4, "Australia")})
    second = Keyed("crnn", {1: ("DOG", 0.97)})
    (read,) = FallbackReader(primary, second).read(crops(1))
    assert (read.text, read.region) == ("D0G", "Australia")
    (without,) = FallbackReader(primary, second, **OFF_C).read(crops(1))
    assert without.text == "DOG"  # the US rule alone leaves a non-US region's O


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("ROCK", "R0CK"),  # vanity: fits no serial format
        ("ZOOM", "Z00M"),
        ("DOG", "D0G"),
        ("C0UGAR", "C0UGAR"),  # already written the US way
        ("GOODLUK", "G00DLUK"),
        ("ORZ466", "ORZ466"),  # AAA999
        ("GOF1234", "GOF1234"),  # AAA9999
        ("8OBC123", "8OBC123"),  # 9AAA999 (California)
        ("AD054JO", "AD054JO"),  # AA999AA (Argentina, Mercosur)
        ("123ABC", "123ABC"),  # no O
        ("", ""),
    ],
)
def test_round_unpatterned_on_real_texts(text, written):
    assert round_unpatterned(text) == written


@pytest.mark.parametrize(
    ("text", "region", "written"),
    [
        ("ROCK", "Australia", "R0CK"),  # where the region head puts US vanity plates
        ("ROCK", "Unknown", "R0CK"),
        ("ROCK", "United States", "R0CK"),
        ("ROCK", None, "R0CK"),  # a reader without a region head
        ("OBR1C23", "Brazil", "OBR1C23"),  # Mercosur AAA9A99, not in PATTERNS: its O is a letter
        ("OT12ABC", "Romania", "OT12ABC"),  # Olt county, AA99AAA
        ("BOO5XYZ", "United Kingdom", "BOO5XYZ"),
    ],
)
def test_round_unpatterned_leaves_the_o_of_regions_whose_serials_have_it(text, region, written):
    assert round_unpatterned(text, region) == written


def test_rule_c_leaves_a_brazilian_read_its_o():
    primary = Keyed("cct", {1: ("OBR1C23", 0.999, "Brazil"), 2: ("DOG", 0.999, "New Zealand")})
    reads = FallbackReader(primary, Keyed("crnn", {})).read(crops(1, 2))
    assert [r.text for r in reads] == ["OBR1C23", "D0G"]


def test_rule_d_fits_a_fallback_read_to_a_serial_only_where_the_region_has_the_patterns():
    from alpr.plates import PATTERN_REGIONS

    # The CRNN read a B the US 999AAA pattern would make an 8; the primary's region decides.
    primary = Keyed("cct", {1: ("B37RY0", 0.6, "Romania"), 2: ("B37RY0", 0.6, "United States"), 3: ("B37RY0", 0.6)})
    second = Keyed("crnn", {k: ("B37RYO", 0.99) for k in (1, 2, 3)})
    reads = FallbackReader(primary, second, correct_in=PATTERN_REGIONS).read(crops(1, 2, 3))
    # Where the patterns apply: fitted to 999AAA; in the US the round character is then written 0.
    assert [r.text for r in reads] == ["B37RYO", "837RY0", "837RYO"]
    # None: the fallback's texts as they come (then US free text writes its round character 0).
    as_read = FallbackReader(primary, second).read(crops(1, 2, 3))
    assert [r.text for r in as_read] == ["B37RYO", "B37RY0", "B37RY0"]


def test_rule_e_takes_a_fallback_read_outside_its_regions_only_for_a_serial_or_vanity_text_it_knows():
    from alpr.plates import PATTERN_REGIONS

    primary = Keyed(
        "cct",
        {
            1: ("IR95XM", 0.70, "Romania"),  # a European serial: the CRNN never saw one
            2: ("IR95XM", 0.70, "United States"),  # the same reads in a region it was trained for
            3: ("IR95XM", 0.70),  # a primary without a region head
            4: ("ABC1Z34", 0.70, "France"),  # a US serial the head put in France
            5: ("SURX", 0.40, "Ireland"),  # a US vanity plate the head put in Ireland
        },
    )
    second = Keyed(
        "crnn",
        {1: ("TR95XMI", 0.97), 2: ("TR95XMI", 0.97), 3: ("TR95XMI", 0.97), 4: ("ABC1234", 0.97), 5: ("SURF", 0.97)},
    )
    reads = FallbackReader(primary, second, trusted_in=PATTERN_REGIONS).read(crops(1, 2, 3, 4, 5))
    assert [r.text for r in reads] == ["IR95XM", "TR95XMI", "TR95XMI", "ABC1234", "SURF"]
    assert reads[0].confidence == 0.70 and reads[3].region == "France"
    # Off (None), the fallback's sure read is taken in every region.
    anywhere = FallbackReader(primary, second).read(crops(1, 2, 3, 4, 5))
    assert [r.text for r in anywhere] == ["TR95XMI", "TR95XMI", "TR95XMI", "ABC1234", "SURF"]


def test_rule_e_judges_the_fallbacks_text_after_rule_d():
    from alpr.plates import PATTERN_REGIONS

    # Rule D does not fit a Romanian read to a US pattern, so rule E sees the CRNN's own text:
    # B37RYO (A99AAA) is no serial it knows, and the primary's read stands.
    primary = Keyed("cct", {1: ("B37RY0", 0.6, "Romania")})
    second = Keyed("crnn", {1: ("B37RYO", 0.99)})
    reader = FallbackReader(primary, second, correct_in=PATTERN_REGIONS, trusted_in=PATTERN_REGIONS)
    (read,) = reader.read(crops(1))
    assert read.text == "B37RY0"


def test_the_default_reader_corrects_through_rule_d(tmp_path):
    from pathlib import Path

    from alpr.plates import PATTERN_REGIONS
    from services.recognizer.models.backends import build_reader
    from services.recognizer.models.model_files import resolve_models_dir
    from services.recognizer.models.recognizer import WEIGHTS_DIR

    models = resolve_models_dir()
    if not (Path(models) / "cct_xs_v2_global.onnx").is_file():
        pytest.skip(f"no pretrained models in {models}")
    reader = build_reader("fallback", device="cpu", weights_dir=WEIGHTS_DIR, models_dir=models)
    assert reader.correct_in == PATTERN_REGIONS and reader.fallback.correct is False
    assert reader.trusted_in == PATTERN_REGIONS  # rule E
    anywhere = build_reader(
        {"type": "fallback", "fallback_anywhere": True}, device="cpu", weights_dir=WEIGHTS_DIR, models_dir=models
    )
    assert anywhere.trusted_in is None
    off = build_reader("fallback", device="cpu", weights_dir=WEIGHTS_DIR, models_dir=models, correct=False)
    assert off.correct_in is None and off.fallback.correct is False  # alpr eval --no-correct
