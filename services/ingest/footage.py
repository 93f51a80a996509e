"""Demo footage: a garage's entry and exit lanes over a simulated day, as mp4 files plus ground truth.

`render_footage(out_dir, ...)` writes one video per lane camera (`<camera_id>.mp4`, codec
mp4v) and `ground_truth.jsonl`: one line per vehicle pass with the plate, the camera, lane
and direction, the frames in which the plate is visible, the moment the vehicle waits at the
barrier (its best picture) and that moment's `captured_at` as ingest will stamp it when the
file is replayed with `replay_start = start`.

The day is compressed: a few minutes of frames hold the morning arrivals, the evening
departures and a light level that falls towards night. Vehicles stop at the barrier for
about a second, so frame selection's "motion hold" is exercised too. Everything is
deterministic by seed.

Plates come from one injectable call, `PlateArtist(text, rng) -> BGR image`, and texts from a
`PlateNamer(rng) -> str`; by default both come from `alpr.synth` (the project's synthetic
plate generator), with a plain drawn plate as the fallback when it is not importable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from alpr.contracts.models import utc_iso

PlateArtist = Callable[[str, np.random.Generator], np.ndarray]
PlateNamer = Callable[[np.random.Generator], str]

DEFAULT_START = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
FACILITY = "garage-1"
LANES = (("cam-g1-entry-1", "L1", "entry"), ("cam-g1-exit-1", "L2", "exit"))
PASS_S = (1.4, 1.0, 1.4)  # drive in, wait at the barrier, drive out
GAP_S = 1.0  # empty lane between two vehicles of one camera


@dataclass(frozen=True)
class Pass:
    """Ground truth of one vehicle passing one lane camera."""

    vehicle: int
    plate: str
    facility_id: str
    camera_id: str
    lane: str
    direction: str
    video: str
    frame_first: int  # plate visible from this frame ...
    frame_last: int  # ... to this one (inclusive)
    t_stop_s: float  # time in the video when the vehicle waits at the barrier
    captured_at: str  # replay_start + t_stop_s, as on the frames topic
    box: tuple[int, int, int, int]  # plate box (x, y, w, h) while waiting


@dataclass(frozen=True)
class Footage:
    videos: list[Path]
    ground_truth: Path
    passes: int
    frames: int


def synth_plates() -> tuple[PlateNamer, PlateArtist]:
    """Plate texts and pictures from alpr.synth; a plain fallback when it is not available."""
    try:
        from alpr.synth.plate import random_plate_text, random_style, render_plate
    except ImportError:
        return _fallback_namer, _fallback_artist

    def namer(rng: np.random.Generator) -> str:
        return random_plate_text(random_style(rng), rng, vanity_p=0.0)

    def artist(text: str, rng: np.random.Generator) -> np.ndarray:
        # Clean plates: the demo shows the pipeline, the held-out sets test the hard cases.
        return render_plate(text, random_style(rng), rng, frame_p=0.0, dirt=0.0)

    return namer, artist


def _fallback_namer(rng: np.random.Generator) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return "".join(letters[int(rng.integers(len(letters)))] for _ in range(3)) + f"{int(rng.integers(1000, 10000))}"


def _fallback_artist(text: str, rng: np.random.Generator) -> np.ndarray:
    plate = np.full((180, 360, 3), 245, np.uint8)
    cv2.rectangle(plate, (4, 4), (355, 175), (120, 40, 20), 4)
    size, _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, 2.6, 6)
    cv2.putText(plate, text, ((360 - size[0]) // 2, 90 + size[1] // 2), cv2.FONT_HERSHEY_DUPLEX, 2.6, (30, 30, 30), 6)
    return plate


def render_footage(
    out_dir: Path,
    *,
    seed: int = 7,
    vehicles: int = 30,
    minutes: float = 4.0,
    fps: float = 4.0,
    width: int = 1280,
    height: int = 720,
    start: datetime = DEFAULT_START,
    namer: PlateNamer | None = None,
    artist: PlateArtist | None = None,
) -> Footage:
    """Render the lane videos and ground truth into `out_dir`; same seed, same bytes of truth."""
    if namer is None or artist is None:
        default_namer, default_artist = synth_plates()
        namer, artist = namer or default_namer, artist or default_artist
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    duration = minutes * 60.0
    schedule = _schedule(rng, vehicles, duration, namer)
    passes: list[Pass] = []
    videos: list[Path] = []
    total_frames = int(round(duration * fps))
    for camera_id, lane, direction in LANES:
        visits = [
            (v, plate, t)
            for v, plate, t_in, t_out in schedule
            for t in ([t_in] if direction == "entry" else [t_out] if t_out is not None else [])
        ]
        path = out_dir / f"{camera_id}.mp4"
        passes += _render_lane(
            path, camera_id, lane, direction, visits, artist, rng, total_frames, fps, width, height, start
        )
        videos.append(path)
    truth = out_dir / "ground_truth.jsonl"
    passes.sort(key=lambda p: (p.t_stop_s, p.camera_id))
    truth.write_text("".join(json.dumps(asdict(p)) + "\n" for p in passes))
    return Footage(videos, truth, len(passes), total_frames * len(LANES))


def _schedule(rng: np.random.Generator, vehicles: int, duration: float, namer: PlateNamer):
    """(vehicle, plate, entry time, exit time or None) with no two passes overlapping on a lane."""
    slot = sum(PASS_S) + GAP_S
    plates: list[str] = []
    while len(plates) < vehicles:
        text = namer(rng)
        if text not in plates:
            plates.append(text)
    # Morning-heavy arrivals in the first 60% of the video, departures after a stay.
    arrivals = np.sort(rng.beta(2.0, 3.5, vehicles) * duration * 0.6)
    entries = _spread(arrivals, slot, duration - slot)
    exits_wanted = [t + float(rng.uniform(0.15, 0.6)) * duration for t in entries]
    stays = [t_out < duration - slot and rng.random() > 0.15 for t_out in exits_wanted]  # ~15% stay the night
    order = np.argsort(exits_wanted)
    leaving = [i for i in order if stays[i]]
    exit_times = _spread(np.array([exits_wanted[i] for i in leaving]), slot, duration - slot)
    exits: dict[int, float] = {i: t for i, t in zip(leaving, exit_times)}
    return [(i, plates[i], float(entries[i]), exits.get(i)) for i in range(len(entries))]


def _spread(times: np.ndarray, slot: float, latest: float) -> list[float]:
    out: list[float] = []
    for t in times:
        t = max(float(t), out[-1] + slot if out else 0.0)
        if t > latest:
            break  # the day is full: fewer vehicles than asked rather than overlapping passes
        out.append(round(t, 3))
    return out


def _render_lane(
    path: Path,
    camera_id: str,
    lane: str,
    direction: str,
    visits,
    artist: PlateArtist,
    rng: np.random.Generator,
    total_frames: int,
    fps: float,
    width: int,
    height: int,
    start: datetime,
) -> list[Pass]:
    background = _lane_background(width, height, f"{FACILITY.upper()}  {direction.upper()}  {lane}", direction)
    cars = [(v, plate, t0, _car_sprite(plate, artist, rng, width)) for v, plate, t0 in visits]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}: OpenCV has no mp4v encoder")
    seen: dict[int, list[int]] = {}
    boxes: dict[int, tuple[int, int, int, int]] = {}
    try:
        for index in range(total_frames):
            t = index / fps
            frame = background.copy()
            for v, _plate, t0, sprite in cars:
                y = _car_top(t - t0, height, sprite.body.shape[0])
                if y is None:
                    continue
                box = _draw_car(frame, sprite, y)
                if box is not None:
                    seen.setdefault(v, []).append(index)
                    if abs(t - round((t0 + PASS_S[0] + PASS_S[1] / 2) * fps) / fps) < 0.5 / fps:
                        boxes[v] = box  # the plate's box in the ground truth's frame
            writer.write(_daylight(frame, t / (total_frames / fps)))
    finally:
        writer.release()
    passes = []
    for v, plate, t0, _ in cars:
        if v not in seen:
            continue
        t_stop = round((t0 + PASS_S[0] + PASS_S[1] / 2) * fps) / fps  # a frame's own time: its captured_at exists
        passes.append(
            Pass(
                vehicle=v,
                plate=plate,
                facility_id=FACILITY,
                camera_id=camera_id,
                lane=lane,
                direction=direction,
                video=path.name,
                frame_first=seen[v][0],
                frame_last=seen[v][-1],
                t_stop_s=round(t_stop, 3),
                captured_at=utc_iso(start + timedelta(seconds=t_stop)),
                box=boxes.get(v, (0, 0, 0, 0)),
            )
        )
    return passes


@dataclass(frozen=True)
class _Sprite:
    body: np.ndarray  # BGR, the car seen from the front with its plate
    mask: np.ndarray  # where the car is (not the transparent corners)
    x: int
    plate_box: tuple[int, int, int, int]  # within the sprite


def _car_sprite(plate: str, artist: PlateArtist, rng: np.random.Generator, width: int) -> _Sprite:
    w = int(width * 0.42)
    h = int(w * 0.62)
    color = tuple(int(c) for c in rng.integers(30, 220, 3))
    body = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    cv2.rectangle(mask, (0, h // 5), (w - 1, h - 1), 255, -1)
    cv2.rectangle(mask, (w // 8, 0), (w - w // 8, h // 4), 255, -1)
    body[mask > 0] = color
    cv2.rectangle(body, (w // 6, h // 20), (w - w // 6, h // 4), (70, 60, 50), -1)  # windshield
    for cx in (w // 8, w - w // 8):  # headlights
        cv2.ellipse(body, (cx, int(h * 0.45)), (w // 14, h // 14), 0, 0, 360, (235, 245, 250), -1)
    cv2.rectangle(body, (w // 30, int(h * 0.82)), (w - w // 30, h - 2), (35, 35, 35), -1)  # bumper
    flat = artist(plate, rng)
    pw = int(w * 0.36)
    ph = int(pw * flat.shape[0] / flat.shape[1])
    px, py = (w - pw) // 2, int(h * 0.56)
    body[py : py + ph, px : px + pw] = cv2.resize(flat, (pw, ph), interpolation=cv2.INTER_AREA)
    x = int(rng.integers(width // 5, width - w - width // 5))
    return _Sprite(body, mask > 0, x, (px, py, pw, ph))


def _car_top(dt: float, height: int, car_h: int) -> int | None:
    """Top edge of the car at `dt` seconds into its pass: drive in from the top, wait, drive out below."""
    drive_in, wait, drive_out = PASS_S
    stop_y = int(height * 0.30)
    if dt < 0 or dt > drive_in + wait + drive_out:
        return None
    if dt < drive_in:
        return int(-car_h + (stop_y + car_h) * dt / drive_in)
    if dt <= drive_in + wait:
        return stop_y
    return int(stop_y + (height - stop_y) * (dt - drive_in - wait) / drive_out)


def _draw_car(frame: np.ndarray, sprite: _Sprite, top: int) -> tuple[int, int, int, int] | None:
    """Paste the car; return the plate's box in the frame when the whole plate is inside it."""
    h, w = sprite.mask.shape
    fh = frame.shape[0]
    y0, y1 = max(0, top), min(fh, top + h)
    if y0 >= y1:
        return None
    sy0 = y0 - top
    region = frame[y0:y1, sprite.x : sprite.x + w]
    m = sprite.mask[sy0 : sy0 + (y1 - y0)]
    region[m] = sprite.body[sy0 : sy0 + (y1 - y0)][m]
    px, py, pw, ph = sprite.plate_box
    if top + py < 0 or top + py + ph > fh:
        return None
    return sprite.x + px, top + py, pw, ph


def _lane_background(width: int, height: int, label: str, direction: str) -> np.ndarray:
    img = np.full((height, width, 3), (92, 94, 96), np.uint8)
    cv2.rectangle(img, (0, 0), (width, int(height * 0.12)), (60, 70, 85), -1)  # garage wall
    cv2.putText(
        img,
        label,
        (int(width * 0.03), int(height * 0.085)),
        cv2.FONT_HERSHEY_SIMPLEX,
        height / 480,
        (230, 230, 230),
        max(1, height // 240),
    )
    for x in (int(width * 0.15), int(width * 0.85)):  # lane edges
        cv2.line(img, (x, int(height * 0.12)), (x, height), (220, 220, 220), max(2, width // 160))
    arm_y = int(height * 0.26)
    colour = (40, 40, 200) if direction == "entry" else (40, 160, 40)
    cv2.rectangle(img, (int(width * 0.05), arm_y), (int(width * 0.15), arm_y + height // 10), colour, -1)  # gate box
    for i, x in enumerate(range(int(width * 0.15), int(width * 0.85), max(8, width // 32))):  # striped arm (raised)
        cv2.line(img, (x, arm_y - 4), (x + width // 32, arm_y - 4), (0, 0, 220) if i % 2 else (240, 240, 240), 6)
    return img


def _daylight(frame: np.ndarray, day_fraction: float) -> np.ndarray:
    """Full light at midday, dimmer at the ends of the simulated day (changes are gradual, so no 'motion')."""
    level = 0.6 + 0.4 * float(np.sin(np.pi * min(1.0, max(0.0, 0.1 + 0.9 * day_fraction))))
    return cv2.convertScaleAbs(frame, alpha=level)
