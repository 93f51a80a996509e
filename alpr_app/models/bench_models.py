"""`alpr bench models`: ms per frame and peak memory of each backend, one replica process each.

Every backend runs in its own child process (a replica: its peak resident memory is its
own, not the sum of the others), on the same 1280x720 JPEG frames, JPEG decode included.
The rounds are interleaved (round 1 of every backend, then round 2 ...) so that other work
on a shared machine weighs on all of them alike, and the figure per backend is the median
round. The ratio the targets use is frames/s against the peer's (`fast-alpr`: the pretrained
detector and reader alone) measured in the same run.

Frames: synthetic `HARD` scenes (seed 9001, several vehicles per frame) and, when the real
set is there, plates-ro-detect val (real 1280x720 dash-cam frames): both kinds, because the
cascade does more work on real frames than on synthetic ones.

Child protocol (stdin/stdout lines): the child prints `ready` after loading and warming up,
then answers each `round` with one JSON line {"ms_per_frame", "peak_rss_mb"}; `quit` ends it.
"""

from __future__ import annotations

import glob
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from alpr.errors import AlprError

PEER = "fast-alpr"


def frame_files(out_dir: Path, synthetic: int, real_dir: Path | None, real: int) -> list[Path]:
    """JPEG frames for the bench: the first `synthetic` frames of the HARD test set (seed 9001,
    `alpr.synth.datasets.write_openalpr_testset`, cached in out_dir) and up to `real` frames of
    `real_dir`."""
    from alpr.synth.datasets import write_openalpr_testset

    synth_dir = out_dir / f"hard-9001-{synthetic}"
    if not (synth_dir / ".complete").exists():
        write_openalpr_testset(str(synth_dir), synthetic, 9001)
        (synth_dir / ".complete").touch()
    files = sorted(synth_dir.glob("*.jpg"))[:synthetic]
    if real_dir is not None and real_dir.is_dir():
        files += [Path(p) for p in sorted(glob.glob(str(real_dir / "*.jpg")))[:real]]
    return files


def child(backend: str, files: list[str], batch: int) -> int:
    """One replica: load the backend, then time a pass over the frames per `round` line."""
    import resource

    import cv2
    import numpy as np

    from services.recognizer.models.backends import split_backend
    from services.recognizer.models.recognizer import load_recognizer

    detector, reader = split_backend(backend)
    rec = load_recognizer(device="cpu", detector=detector, reader=reader)
    rec.warmup()
    blobs = [Path(f).read_bytes() for f in files]
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "round":
            break
        t0 = time.perf_counter()
        for start in range(0, len(blobs), batch):
            frames = [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR) for b in blobs[start : start + batch]]
            rec.recognize(frames)
        ms = 1000 * (time.perf_counter() - t0) / len(blobs)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"ms_per_frame": round(ms, 2), "peak_rss_mb": round(rss, 1)}), flush=True)
    return 0


def run_bench(
    backends: list[str],
    work_dir: Path,
    synthetic: int = 24,
    real: int = 24,
    rounds: int = 5,
    batch: int = 8,
    real_dir: Path | None = None,
    progress=print,
) -> dict:
    from alpr.measure import machine
    from services.recognizer.models.backends import split_backend

    if PEER not in backends:
        backends = [*backends, PEER]
    for b in backends:
        split_backend(b)  # an unknown name fails here, before any replica starts
    files = frame_files(work_dir, synthetic, real_dir, real)
    if not files:
        raise AlprError("no frames to measure")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[3]), os.environ.get("PYTHONPATH", "")]),
    }
    procs = {}
    for b in backends:
        procs[b] = subprocess.Popen(
            [sys.executable, "-m", __name__, "--child", b, "--batch", str(batch), *map(str, files)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
    results: dict[str, list[dict]] = {b: [] for b in backends}
    try:
        for b, p in procs.items():
            line = p.stdout.readline().strip()
            if line != "ready":
                raise AlprError(f"backend {b}: the replica did not start (exit {p.poll()})")
        for r in range(rounds):
            for b, p in procs.items():
                p.stdin.write("round\n")
                p.stdin.flush()
                line = p.stdout.readline()
                if not line:
                    raise AlprError(f"backend {b}: the replica ended during round {r + 1}")
                results[b].append(json.loads(line))
            progress(
                f"round {r + 1}/{rounds}: " + ", ".join(f"{b} {results[b][-1]['ms_per_frame']} ms" for b in backends)
            )
    finally:
        for p in procs.values():
            try:
                p.stdin.write("quit\n")
                p.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
            p.wait(timeout=60)
    peer_ms = statistics.median(x["ms_per_frame"] for x in results[PEER])
    rows = {}
    for b in backends:
        ms = statistics.median(x["ms_per_frame"] for x in results[b])
        rows[b] = {
            "ms_per_frame": round(ms, 1),
            "frames_per_s": round(1000 / ms, 2),
            "frames_per_s_vs_peer": round(peer_ms / ms, 2),
            "peak_rss_mb": max(x["peak_rss_mb"] for x in results[b]),
            "rounds_ms": [x["ms_per_frame"] for x in results[b]],
        }
    load = os.getloadavg()[0]
    return {
        "machine": machine(),
        "frames": len(files),
        "synthetic_frames": min(synthetic, len(files)),
        "real_frames": len(files) - synthetic,
        "rounds": rounds,
        "batch": batch,
        "peer": PEER,
        "load_average_1m_after": round(load, 2),
        "backends": rows,
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--child", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args(argv)
    return child(args.child, args.files, args.batch)


if __name__ == "__main__":
    sys.exit(main())
