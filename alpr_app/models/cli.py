"""`alpr synth`, `alpr train`, `alpr eval`, `alpr models`: synthetic data, model training and measurement, the model files.

Registration is cheap; torch and ultralytics load inside the handlers.
"""

from __future__ import annotations

import argparse
import os
import sys

from alpr.errors import AlprError
from alpr.output import emit

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Seeds the committed weights were trained with; a test set drawn from them would not be held out.
TRAINING_SEEDS = {1000, 1002, 2000, 2001, 2002, 2003, 2004, 2005, 2006, 2008, 2009}
TESTSET_SEED = 9001


def datasets_dir(flag: str | None) -> str:
    """--datasets, else $ALPR_DATASETS, else ../shared/datasets beside the repository."""
    return flag or os.environ.get("ALPR_DATASETS") or os.path.join(REPO_ROOT, "..", "shared", "datasets")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the synth, train and eval commands to the `alpr` parser."""
    synth = subparsers.add_parser("synth", help="render synthetic plate data sets")
    ssub = synth.add_subparsers(dest="synth_command", required=True, metavar="KIND")
    for kind, helptext, n in (
        ("testset", "held-out frames under harder conditions, openalpr format (name, x, y, w, h, plate)", 300),
        ("detection", "YOLO detection split (images/, labels/)", 1000),
        ("crops", "plate crops and labels.csv (image_path,plate_text)", 5000),
    ):
        p = ssub.add_parser(kind, help=helptext)
        p.add_argument("--out", required=True, help="output folder (created)")
        p.add_argument(
            "--seed",
            type=int,
            default=TESTSET_SEED if kind == "testset" else 1,
            help=f"set seed (default {TESTSET_SEED} for testset, never used in training)",
        )
        p.add_argument("--n", type=int, default=n, help=f"number of items (default {n})")
        p.add_argument("--workers", type=int, default=1, help="rendering processes")
        p.set_defaults(handler=_synth)
    comp = ssub.add_parser(
        "composite",
        help="real US plate crops (plates-us-ocr-val) pasted over the plates of real dash-cam frames "
        "(plates-ro-detect), openalpr format: full frames of real US plates (70-420 px unless --widths), for measuring only",
    )
    comp.add_argument("--out", required=True, help="output folder (created)")
    comp.add_argument("--seed", type=int, default=1, help="which frame, size and place each crop gets (default 1)")
    comp.add_argument("--datasets", help="real data folder (default $ALPR_DATASETS or ../shared/datasets)")
    comp.add_argument("--crops", help="labelled crops CSV (default <datasets>/plates-us-ocr-val/annotations.csv)")
    comp.add_argument("--limit", type=int, help="only the first N crops")
    comp.add_argument("--size", default="1280x720", help="frame WIDTHxHEIGHT (default 1280x720; plates scale with it)")
    comp.add_argument(
        "--widths",
        help="plate width bands LO-HI[,LO-HI...] in px of a 1280 px frame, drawn in turn "
        "(default 70-110,110-170,170-260,260-420; 50-70: small plates)",
    )
    comp.set_defaults(handler=_composite)

    train = subparsers.add_parser("train", help="train the plate detector or reader (CPU is fine, slow)")
    tsub = train.add_subparsers(dest="train_command", required=True, metavar="MODEL")
    det = tsub.add_parser("detector", help="YOLO nano plate detector on synthetic + plates-ro-detect frames")
    det.add_argument("--epochs", type=int, default=8)
    det.add_argument("--imgsz", type=int, default=512)
    det.add_argument("--synth-images", type=int, default=1600)
    det.add_argument("--seed", type=int, default=1000)
    det.add_argument("--batch", type=int, default=16)
    det.add_argument("--workers", type=int, default=2, help="rendering and dataloader processes")
    det.add_argument("--init", help="start from these detector weights (a second stage on a new --seed)")
    det.add_argument("--warmup-epochs", dest="warmup_epochs", type=float, default=3.0)
    det.set_defaults(handler=_train_detector, work_dir="/tmp/alpr-train/detector")
    rd = tsub.add_parser("reader", help="CRNN+CTC plate reader on synthetic crops + plates-ar-ocr")
    rd.add_argument("--epochs", type=int, default=8)
    rd.add_argument("--synth-crops", type=int, default=30000)
    rd.add_argument("--synth-val-crops", dest="synth_val_crops", type=int, default=1000)
    rd.add_argument("--seed", type=int, default=2000)
    rd.add_argument("--batch", type=int, default=64)
    rd.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (one-cycle schedule)")
    rd.add_argument("--init", help="start from these reader weights (the committed reader's second stage)")
    rd.add_argument("--threads", type=int, default=1, help="torch threads (1 leaves a core to the detector run)")
    rd.add_argument("--workers", type=int, default=1, help="crop rendering processes")
    rd.add_argument(
        "--extra-seeds",
        type=int,
        nargs="*",
        default=[],
        metavar="SEED",
        help="more synthetic training sets of --synth-crops each (rendered when missing)",
    )
    rd.add_argument(
        "--hard-seeds",
        dest="hard_seeds",
        type=int,
        nargs="*",
        default=[],
        metavar="SEED",
        help="synthetic training sets of --synth-crops each rendered under the HARD conditions (never 9001, the "
        "HARD test set's seed); a HARD validation set joins the TRAIN one",
    )
    rd.add_argument(
        "--conditions",
        default="train",
        help="degradation ranges of the --seed and --extra-seeds sets and their validation set, a name of "
        "alpr.synth.scene.CONDITIONS (train, train-real-ones, hard, clean); train-real-ones draws most 1s without "
        "the font's foot, as on real US plates",
    )
    rd.add_argument(
        "--mixed-sets",
        dest="mixed_sets",
        nargs="*",
        default=[],
        metavar="CONDITIONS:SEED",
        help="more training sets of --synth-crops each under other conditions than --conditions (e.g. "
        "train-real-ones:2200); each condition's first seed + 1 joins validation",
    )
    rd.add_argument(
        "--width",
        choices=("small", "wide"),
        default="small",
        help="reader size (crnn.WIDTHS): wide has 1.8x the parameters and trains at about 0.6x the speed",
    )
    rd.add_argument(
        "--augment",
        action="store_true",
        help="online augmentation (cut, scale, noise) within the TRAIN conditions' ranges",
    )
    rd.add_argument(
        "--from-reviews",
        dest="from_reviews",
        action="store_true",
        help="also train on the crops reviewers confirmed or corrected (revenue's review queue, within retention "
        "or held), exported to <data dir>/training/reviews/; the model card records it. With chDB, stop the "
        "revenue service first (one process per data directory)",
    )
    rd.add_argument(
        "--keep-export", dest="keep_export", action="store_true", help="keep the exported reviewed crops after training"
    )
    rd.set_defaults(handler=_train_reader, work_dir="/tmp/alpr-train/reader")
    soup = tsub.add_parser(
        "soup",
        help="a reader mixed from two of one training history: (1 - weight) x FIRST + weight x SECOND",
    )
    soup.add_argument("first", help="reader weights (e.g. the committed weights/reader.pt)")
    soup.add_argument("second", help="reader weights trained from FIRST (--init)")
    soup.add_argument("--weight", type=float, required=True, help="share of SECOND, in (0, 1)")
    soup.add_argument("--out", default=None, help="output folder (default: the committed weights folder)")
    soup.set_defaults(handler=_train_soup)
    cct = tsub.add_parser(
        "cct",
        help="fine-tune the pretrained CCT reader (fast-plate-ocr, MIT) on synthetic US crops, the real sets and "
        "reviewed crops; writes cct_us.onnx (reader preset cct-us / fallback-us)",
    )
    from alpr_app.models.finetune_reader import FineTuning  # numpy and the plate rules only: cheap

    defaults = FineTuning(out_dir="")
    cct.add_argument("--epochs", type=int, default=defaults.epochs)
    cct.add_argument("--epoch-steps", dest="epoch_steps", type=int, default=defaults.epoch_steps)
    cct.add_argument("--synth-crops", dest="synth_crops", type=int, default=defaults.synth_crops)
    cct.add_argument("--synth-val-crops", dest="synth_val_crops", type=int, default=defaults.synth_val_crops)
    cct.add_argument("--ro-variants", dest="ro_variants", type=int, default=defaults.ro_variants,
                     help="jittered cuts per pseudo-labelled plates-ro-detect plate (0: leave that set out)")  # fmt: skip
    cct.add_argument("--lr", type=float, default=defaults.lr)
    cct.add_argument(
        "--train-only",
        dest="train_only",
        default=defaults.train_only,
        help="train only the tensors whose ONNX names contain one of these comma-separated parts (plate_1/: the "
        "plate head); default: everything but the convolution stem",
    )
    cct.add_argument("--seed", type=int, default=defaults.seed)
    cct.add_argument("--threads", type=int, default=defaults.threads)
    cct.add_argument("--workers", type=int, default=defaults.workers, help="rendering processes")
    cct.add_argument(
        "--from-reviews",
        dest="from_reviews",
        action="store_true",
        help="also train on the crops reviewers confirmed or corrected (as for `train reader`); their held-out "
        "plates then decide which state is kept, and the model card records the run",
    )
    cct.add_argument(
        "--keep-export", dest="keep_export", action="store_true", help="keep the exported reviewed crops after training"
    )
    cct.set_defaults(handler=_train_cct, work_dir="/tmp/alpr-train/finetune-cct")
    for p in (det, rd, cct):
        p.add_argument("--datasets", help="real data folder (default $ALPR_DATASETS or ../shared/datasets)")
        p.add_argument("--out", default=None, help="where the weights file goes (default: the committed weights dir)")
        p.add_argument("--work-dir", dest="work_dir", help="scratch for rendered data and runs")

    ev = subparsers.add_parser("eval", help="measure capture and reading on a labelled set")
    ev.add_argument("--dataset", required=True, help="folder (openalpr, yolo) or CSV file (crops)")
    ev.add_argument(
        "--format",
        choices=("openalpr", "crops", "yolo"),
        default="openalpr",
        help="openalpr: images + name/x/y/w/h/plate .txt; crops: image_path,plate_text CSV; "
        "yolo: images/<split> folder with labels/<split> (boxes only)",
    )
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--weights", help="weights folder (default: the committed weights)")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda:0 ...")
    ev.add_argument("--batch", type=int, default=8, help="frames per recognizer call")
    ev.add_argument("--limit", type=int, help="only the first N images")
    ev.add_argument(
        "--failures",
        type=int,
        default=20,
        help="how many wrong reads the JSON lists, to study (default 20; 0 for none)",
    )
    ev.add_argument(
        "--holdout", action="store_true", help="crops only: keep the plates-ar-ocr plates held out of reader training"
    )
    ev.add_argument(
        "--no-correct",
        dest="correct",
        action="store_false",
        default=None,
        help="disable the format correction (project-crnn reader)",
    )
    ev.add_argument(
        "--raw-confidence",
        action="store_true",
        help="report the reader's own confidences, not the calibrated ones (weights/calibration.json)",
    )
    ev.add_argument(
        "--backend",
        help="models to measure: project, fast-alpr, fused, or DETECTOR+READER "
        "(backends.py; default: ALPR_RECOGNIZER_DETECTOR + ALPR_RECOGNIZER_READER as configured)",
    )
    ev.add_argument(
        "--models-dir",
        dest="models_dir",
        help="folder of the pretrained ONNX models (default $ALPR_MODELS_DIR, else ../shared/models)",
    )
    ev.set_defaults(handler=_eval)

    models = subparsers.add_parser("models", help="the pretrained plate models (ONNX) of the models dir")
    msub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    check = msub.add_parser("check", help="where the models dir is and which model files it holds (with hashes)")
    check.add_argument("--models-dir", dest="models_dir")
    check.set_defaults(handler=_models_check)
    fetch = msub.add_parser(
        "fetch",
        help="download the pretrained models with their packages' own download "
        "functions (needs internet) into <ALPR_DATA_DIR>/models",
    )
    fetch.add_argument("--out", help="target folder (default <ALPR_DATA_DIR>/models)")
    fetch.set_defaults(handler=_models_fetch)


def _synth(args: argparse.Namespace) -> int:
    from alpr.synth import datasets

    if args.synth_command == "testset" and args.seed in TRAINING_SEEDS:
        raise AlprError(f"seed {args.seed} was used to train the committed models; a test set needs another")
    if args.n < 1:
        raise AlprError("--n must be at least 1")
    writer = {
        "testset": datasets.write_openalpr_testset,
        "detection": datasets.write_detection_dataset,
        "crops": datasets.write_crops_dataset,
    }[args.synth_command]
    out = writer(
        args.out,
        args.n,
        args.seed,
        workers=args.workers,
        progress=lambda i, n: print(f"{i}/{n}", file=sys.stderr, flush=True),
    )
    print(out)
    return 0


def _composite(args: argparse.Namespace) -> int:
    from alpr_app.models.composite import write_composite_set

    root = datasets_dir(args.datasets)
    crops = args.crops or os.path.join(root, "plates-us-ocr-val", "annotations.csv")
    detect = os.path.join(root, "plates-ro-detect")
    for need in (crops, detect):
        if not os.path.exists(need):
            raise AlprError(f"{need} not found (set --datasets or ALPR_DATASETS to the real data folder)")
    if args.limit is not None and args.limit < 1:
        raise AlprError("--limit must be at least 1")
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise AlprError(f"--size {args.size!r}: expected WIDTHxHEIGHT, e.g. 1920x1080") from None
    widths = _width_bands(args.widths) if args.widths else None
    n = write_composite_set(
        args.out,
        crops,
        detect,
        seed=args.seed,
        limit=args.limit,
        progress=_every(100),
        size=(width, height),
        **({"widths": widths} if widths else {}),
    )
    print(f"{n} frames in {args.out}")
    return 0


def _width_bands(text: str) -> list[tuple[int, int]]:
    """`--widths` as (low, high) pairs: '50-70' or '50-70,70-110'."""
    bands = []
    for part in text.split(","):
        try:
            lo, hi = (int(v) for v in part.strip().split("-"))
        except ValueError:
            raise AlprError(f"--widths {text!r}: expected LO-HI[,LO-HI...] in px, e.g. 50-70") from None
        bands.append((lo, hi))
    return bands


def _condition_seed(text: str) -> tuple[str, int]:
    """'train-real-ones:2200' -> ('train-real-ones', 2200), for --mixed-sets."""
    conditions, _, seed = text.rpartition(":")
    if not conditions or not seed.isdigit():
        raise AlprError(f"--mixed-sets takes CONDITIONS:SEED (e.g. train-real-ones:2200), not {text!r}")
    return conditions, int(seed)


def _weights_out(args: argparse.Namespace) -> str:
    from services.recognizer.models.recognizer import WEIGHTS_DIR

    return args.out or WEIGHTS_DIR


def _train_detector(args: argparse.Namespace) -> int:
    from alpr_app.models.train_detector import DetectorTraining, train_detector

    path = train_detector(
        DetectorTraining(
            out_dir=_weights_out(args),
            work_dir=args.work_dir,
            datasets_dir=datasets_dir(args.datasets),
            synth_images=args.synth_images,
            seed=args.seed,
            epochs=args.epochs,
            imgsz=args.imgsz,
            batch=args.batch,
            workers=args.workers,
            init=args.init,
            warmup_epochs=args.warmup_epochs,
        )
    )
    print(path)
    return 0


def _export_reviews():
    """Export revenue's reviewed crops (alpr_app.models.reviews_dataset) under the data directory."""
    from pathlib import Path

    from alpr.settings import load_settings
    from alpr.store import open_service_store
    from alpr_app.models.reviews_dataset import export_reviewed_crops
    from services.revenue.settings import RevenueSettings

    settings = load_settings(RevenueSettings)
    store = open_service_store("revenue", settings)
    try:
        export = export_reviewed_crops(store, Path(settings.data_dir) / "training" / "reviews")
    finally:
        store.close()
    print(f"reviewed crops: {export.crops} of {export.plates} plates from {len(export.cameras)} cameras "
          f"({export.corrected} corrected), left out {export.left_out or 'none'}; in {export.folder}",
          file=sys.stderr)  # fmt: skip
    if export.crops == 0:
        raise AlprError("no reviewed crops to train on: nobody has confirmed or corrected a review task yet")
    return export


def _train_reader(args: argparse.Namespace) -> int:
    import shutil

    from alpr_app.models.train_reader import ReaderTraining, train_reader

    export = _export_reviews() if args.from_reviews else None
    try:
        path = train_reader(
            ReaderTraining(
                out_dir=_weights_out(args),
                work_dir=args.work_dir,
                datasets_dir=datasets_dir(args.datasets),
                synth_crops=args.synth_crops,
                synth_val_crops=args.synth_val_crops,
                seed=args.seed,
                epochs=args.epochs,
                batch=args.batch,
                threads=args.threads,
                workers=args.workers,
                lr=args.lr,
                init=args.init,
                extra_seeds=tuple(args.extra_seeds),
                hard_seeds=tuple(args.hard_seeds),
                conditions=args.conditions,
                mixed_sets=tuple(_condition_seed(x) for x in args.mixed_sets),
                augment=args.augment,
                width=args.width,
                review_crops=os.path.join(export.folder, "labels.csv") if export else None,
            )
        )
    finally:
        if export is not None and not args.keep_export:
            shutil.rmtree(export.folder, ignore_errors=True)  # ALPR data: not kept longer than needed, even on failure
    if export is not None:
        from alpr_app.models.model_card import record_review_training

        record_review_training(path, export)
    print(path)
    return 0


def _train_soup(args: argparse.Namespace) -> int:
    from alpr_app.models.train_reader import average_readers

    print(average_readers(args.first, args.second, args.weight, _weights_out(args)))
    return 0


def _train_cct(args: argparse.Namespace) -> int:
    import shutil

    from alpr_app.models.finetune_reader import OUT_FILE, FineTuning, finetune
    from services.recognizer.models.model_files import resolve_models_dir

    export = _export_reviews() if args.from_reviews else None
    out = _weights_out(args)
    cfg = FineTuning(
        out_dir=out,
        models_dir=str(resolve_models_dir()),
        datasets_dir=datasets_dir(args.datasets),
        work_dir=args.work_dir,
        epochs=args.epochs,
        epoch_steps=args.epoch_steps,
        synth_crops=args.synth_crops,
        synth_val_crops=args.synth_val_crops,
        ro_variants=args.ro_variants,
        lr=args.lr,
        train_only=args.train_only,
        seed=args.seed,
        threads=args.threads,
        workers=args.workers,
        review_crops=os.path.join(export.folder, "labels.csv") if export else None,
    )
    try:
        summary = finetune(cfg, log=lambda line: print(line, file=sys.stderr, flush=True))
    finally:
        if export is not None and not args.keep_export:
            shutil.rmtree(export.folder, ignore_errors=True)  # ALPR data: not kept longer than needed
    path = os.path.join(out, OUT_FILE)
    if export is not None:
        from alpr_app.models.model_card import record_cct_review_training

        record_cct_review_training(path, export, summary)
    print(path)
    return 0


def _every(n: int):
    """A progress callback that prints to stderr about every `n` items (stdout stays JSON)."""
    last = [0]

    def report(done: int, total: int) -> None:
        if done == total or done // n > last[0] // n:
            last[0] = done
            print(f"{done}/{total} images", file=sys.stderr, flush=True)

    return report


def _configured_backend() -> tuple[str, str]:
    from alpr.settings import load_settings
    from services.recognizer.settings import RecognizerSettings

    settings = load_settings(RecognizerSettings)
    return settings.detector, settings.reader


def _peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _eval(args: argparse.Namespace) -> int:
    from alpr_app.models import evaluate
    from services.recognizer.models.backends import build_reader, split_backend
    from services.recognizer.models.model_files import resolve_models_dir
    from services.recognizer.models.recognizer import WEIGHTS_DIR, load_recognizer, pick_device

    if not os.path.exists(args.dataset):
        raise AlprError(f"dataset {args.dataset} not found")
    if args.failures < 0:
        raise AlprError("--failures is a count of wrong reads to list: 0 or more")
    detector, reader = split_backend(args.backend) if args.backend else _configured_backend()
    models_dir = resolve_models_dir(args.models_dir)
    if args.format == "crops":
        from alpr_app.models.train_reader import real_split

        rows = evaluate.load_crops(args.dataset)
        if args.holdout:
            rows = [r for r in rows if real_split(r[1]) == "test"]
        rows = rows[: args.limit] if args.limit else rows
        model = build_reader(
            reader,
            device=pick_device(args.device),
            weights_dir=args.weights or WEIGHTS_DIR,
            models_dir=models_dir,
            correct=args.correct,
        )
        model.warmup()
        from services.recognizer.models.calibration import load_calibration

        calibration = None if args.raw_confidence else load_calibration(model.name)
        names = {"detector": None, "reader": f"{model.name}~{calibration.tag}" if calibration else model.name}
        result = evaluate.evaluate_crops(model, rows, calibration=calibration, max_failures=args.failures)
    else:
        items = evaluate.load_openalpr(args.dataset) if args.format == "openalpr" else evaluate.load_yolo(args.dataset)
        items = items[: args.limit] if args.limit else items
        recognizer = load_recognizer(
            args.weights,
            args.device,
            correct=args.correct,
            detector=detector,
            reader=reader,
            models_dir=models_dir,
            calibrate=not args.raw_confidence,
        )
        recognizer.warmup()
        names = {"detector": recognizer.detector.name, "reader": recognizer.reader_name}
        result = evaluate.evaluate_frames(
            recognizer, items, batch=args.batch, progress=_every(100), max_failures=args.failures
        )
    result = {
        "dataset": os.path.abspath(args.dataset),
        "format": args.format,
        "backend": {"detector": detector if args.format != "crops" else None, "reader": reader},
        "models": names,
        **result,
        "peak_rss_mb": _peak_rss_mb(),
    }
    if args.json:
        emit(result)
    else:
        for key in (
            "images",
            "plates",
            "capture_rate",
            "perfect_read_rate",
            "char_accuracy",
            "ms_per_image",
            "peak_rss_mb",
        ):
            print(f"{key:>18}: {result.get(key)}")
        sure = result["reliability"]["at_or_above_0.9"]
        print(f"{'reads >= 0.9':>18}: {sure['reads']} ({sure['share_of_reads']} of reads), right {sure['right']}")
        print(f"{'models':>18}: {names}")
    return 0


def _models_check(args: argparse.Namespace) -> int:
    from services.recognizer.models.model_files import resolve_models_dir, sha256
    from services.recognizer.models.onnx_models import CCT_V1_FILE, CCT_V2_FILE, YOLOV9_FILES

    folder = resolve_models_dir(args.models_dir)
    print(f"models dir: {folder}{'' if folder.is_dir() else ' (missing)'}")
    wanted = {
        "yolov9-onnx": YOLOV9_FILES,
        "cct-onnx": (CCT_V2_FILE, CCT_V2_FILE.replace(".onnx", "_plate_config.yaml")),
        "cct-v1-onnx": (CCT_V1_FILE, CCT_V1_FILE.replace(".onnx", "_plate_config.yaml")),
    }
    missing = 0
    for backend, files in wanted.items():
        present = [f for f in files if (folder / f).is_file()]
        if backend == "yolov9-onnx":
            present = present[:1]
            need = 1
        else:
            need = len(files)
        for f in present:
            print(f"{backend:>12}: {f} sha256 {sha256(folder / f)[:12]}")
        if len(present) < need:
            missing += 1
            join = " or " if backend == "yolov9-onnx" else " and "
            print(f"{backend:>12}: missing {join.join(f for f in files if f not in present)}")
    return 1 if missing else 0


def _models_fetch(args: argparse.Namespace) -> int:
    import urllib.error
    from pathlib import Path

    from alpr.settings import CommonSettings, load_settings

    out = Path(args.out) if args.out else load_settings(CommonSettings).data_dir / "models"
    try:
        from fast_plate_ocr.inference.hub import download_model as fetch_reader
        from open_image_models.detection.core.hub import download_model as fetch_detector
    except ImportError as err:
        raise AlprError(f"{err.name} is not installed (make venv installs it)") from None
    try:
        paths = [fetch_detector("yolo-v9-t-416-license-plate-end2end", save_directory=out)]
        for name in ("cct-xs-v2-global-model", "cct-xs-v1-global-model"):
            paths.extend(fetch_reader(name, save_directory=out))
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise AlprError(
            f"cannot download the models into {out} ({type(err).__name__}: {err}); on a machine "
            "without internet copy them there or set ALPR_MODELS_DIR"
        ) from None
    for p in paths:
        print(p)
    return 0
