"""The shared plate-text rules: normalizing, confusable keys, format-aware correction."""

from alpr.plates import PATTERNS, confusable_key, correct_format, fits, normalize, pattern_of


def test_normalize_drops_decoration_and_upcases():
    assert normalize(" 8abc-123 ") == "8ABC123"
    assert normalize("AB 123·CD") == "AB123CD"


def test_confusable_key_folds_each_group():
    assert confusable_key("8ABC123") == confusable_key("BABC1Z3")
    assert confusable_key("O0QD") == "0000"
    assert confusable_key("IL1") == "111"
    assert confusable_key("S5") == "55"
    assert confusable_key("G6") == "66"
    # Characters outside every group still tell plates apart.
    assert confusable_key("ABC123") != confusable_key("ABC124")


def test_correct_format_swaps_confusables_to_fit_a_pattern():
    assert correct_format("BABC123") == "8ABC123"  # 9AAA999: a letter where a digit belongs
    assert correct_format("8A8C123") == "8ABC123"  # ... and a digit where a letter belongs
    assert correct_format("ABC12S4") == "ABC1254"  # AAA9999
    assert correct_format("A0 054 J1") == "AO054JI"  # AA999AA (Mercosur), separators ignored


def test_correct_format_leaves_fitting_and_vanity_reads_alone():
    assert correct_format("8ABC123") == "8ABC123"
    assert correct_format("GO4IT") == "GO4IT"  # no 5-character pattern
    assert correct_format("LUVBUG") == "LUVBUG"  # 6 letters: no pattern reachable by swaps


def test_correct_format_refuses_to_guess_between_equal_patterns():
    assert correct_format("O0", patterns=["AA", "99"]) == "O0"
    assert correct_format("O0", patterns=["AA"]) == "OO"


def test_patterns_are_letters_and_digits_only():
    for name, pattern in PATTERNS.items():
        assert set(pattern) <= {"A", "9"}, name
        assert pattern_of(pattern.replace("A", "X").replace("9", "7")) is not None
    assert fits("8ABC123", PATTERNS["us-7-california"])
    assert not fits("8ABC12", PATTERNS["us-7-california"])


def test_confidences_break_ties_towards_swapping_the_doubtful_character():
    assert correct_format("O0", [0.9, 0.2], patterns=["AA", "99"]) == "OO"
    assert correct_format("O0", [0.2, 0.9], patterns=["AA", "99"]) == "00"
    assert correct_format("O0", [0.5, 0.5], patterns=["AA", "99"]) == "O0"


def test_vote_plate_aligns_reads_and_weights_each_character():
    from alpr.plates import vote_plate

    assert vote_plate([("8ABC123", [0.9] * 7)]) == ("8ABC123", (0.9,) * 7)
    text, confs = vote_plate(
        [("8ABC123", [0.9] * 7), ("8A8C123", [0.9, 0.9, 0.5, 0.9, 0.9, 0.9, 0.9]), ("8ABC123", [0.8] * 7)]
    )
    assert text == "8ABC123" and confs[2] < 0.9 and confs[0] == 0.9
    # a dropped and an inserted character vote on the rest, at their aligned positions
    assert vote_plate([("8ABC123", [0.7] * 7), ("8ABC12", [0.9] * 6), ("8ABC1233", [0.6] * 8)])[0] == "8ABC123"
    # the length with the most confidence behind it wins over one louder read
    assert vote_plate([("ABC1234", [0.6] * 7), ("ABC1234", [0.6] * 7), ("ABC123", [0.99] * 6)])[0] == "ABC1234"
    assert vote_plate([]) == ("", ())


def test_the_round_character_of_a_us_plate_is_written_0():
    from alpr.plates import round_character

    assert round_character("C0UGAR", "United States") == "C0UGAR"
    assert round_character("BLOGGER", "United States") == "BL0GGER"  # vanity: O and 0 are one glyph
    assert round_character("M0TORZ", "United States") == "M0T0RZ"
    assert round_character("ORZ466", "United States") == "0RZ466"  # as the reference data writes it
    assert round_character("AOO0956", "United States") == "A000956"  # AAA9999: still the digit
    assert round_character("0RZ466", "United States") == "0RZ466"  # one way: a 0 stays as read
    assert round_character("AD054JO", "Argentina") == "AD054JO"  # other regions keep their O
    assert round_character("BLOGGER", None) == "BLOGGER"  # no region known: nothing assumed
