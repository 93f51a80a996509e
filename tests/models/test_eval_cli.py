"""`alpr eval` and `alpr synth` through the real command line."""

import json

from alpr.synth import write_crops_dataset, write_detection_dataset, write_openalpr_testset
from alpr_app.cli import main

KEYS = {"images", "capture_rate", "perfect_read_rate", "char_accuracy", "ms_per_image", "confusions"}


def _json(capsys) -> dict:
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return json.loads(out[0])


def test_eval_openalpr_prints_one_json_object(tmp_path, capsys):
    write_openalpr_testset(str(tmp_path), 3, seed=5150)
    assert main(["eval", "--dataset", str(tmp_path), "--format", "openalpr", "--json"]) == 0
    result = _json(capsys)
    assert KEYS <= result.keys()
    assert result["images"] == 3 and result["plates"] >= 3
    assert 0.0 <= result["perfect_read_rate"] <= result["capture_rate"] <= 1.0
    assert result["ms_per_image"] > 0


def test_eval_crops(tmp_path, capsys):
    csv_path = write_crops_dataset(str(tmp_path), 6, seed=5151)
    assert main(["eval", "--dataset", csv_path, "--format", "crops", "--json"]) == 0
    result = _json(capsys)
    assert KEYS <= result.keys()
    assert result["images"] == 6 and result["capture_rate"] is None
    assert 0.0 <= result["perfect_read_rate"] <= result["char_accuracy"] <= 1.0


def test_eval_lists_as_many_wrong_reads_as_asked(tmp_path, capsys):
    csv_path = write_crops_dataset(str(tmp_path), 4, seed=5153)
    rows = open(csv_path).read().splitlines()
    # Every label made wrong: no reader reads this text from a synthetic plate.
    open(csv_path, "w").write("\n".join([rows[0]] + [r.rsplit(",", 1)[0] + ",QQQQQQQQ" for r in rows[1:]]) + "\n")
    assert main(["eval", "--dataset", csv_path, "--format", "crops", "--json", "--failures", "3"]) == 0
    failures = _json(capsys)["failures"]
    assert len(failures) == 3
    assert all(f["label"] == "QQQQQQQQ" and f["read"] != "QQQQQQQQ" and "confidence" in f for f in failures)
    assert main(["eval", "--dataset", csv_path, "--format", "crops", "--json", "--failures", "-1"]) == 2
    assert "--failures" in capsys.readouterr().err


def test_eval_yolo_measures_capture_only(tmp_path, capsys):
    write_detection_dataset(str(tmp_path), 2, seed=5152)
    assert main(["eval", "--dataset", str(tmp_path / "images"), "--format", "yolo", "--json"]) == 0
    result = _json(capsys)
    assert result["images"] == 2 and result["perfect_read_rate"] is None


def test_user_errors_are_one_line(tmp_path, capsys):
    assert main(["eval", "--dataset", str(tmp_path / "missing"), "--format", "openalpr"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["synth", "testset", "--out", str(tmp_path / "t"), "--seed", "1000"]) == 2
    err = capsys.readouterr().err.strip()
    assert "used to train" in err and len(err.splitlines()) == 1


def test_synth_testset_command(tmp_path, capsys):
    assert main(["synth", "testset", "--out", str(tmp_path), "--seed", "77", "--n", "2"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00000.jpg", "00000.txt", "00001.jpg", "00001.txt"]


def test_registering_commands_loads_no_models():
    # `alpr --help` must stay fast: torch and ultralytics load only inside handlers.
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (
        "import sys; from alpr_app.models.cli import register; import argparse; "
        "register(argparse.ArgumentParser().add_subparsers()); "
        "print('torch' in sys.modules, 'ultralytics' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_confusions_name_each_character_error():
    from alpr_app.models.evaluate import _Tally, char_errors

    assert char_errors("OMT7187", "QMT7187") == ["O>Q"]
    assert char_errors("YGN1920", "YGN192") == ["0>-"]
    assert char_errors("JU982", "JUI982") == ["->I"]
    assert char_errors("ABC", "ABC") == []
    tally = _Tally()
    for label, read in (("OMT7187", "QMT7187"), ("0AB123", "OAB123"), ("OXX111", "QXX111"), ("AAA", None)):
        tally.add(label, read)
    assert tally.top_confusions() == {"O>Q": 2, "0>O": 1}
