"""Camera frames with vehicles and plates, and the ways a real camera spoils them.

`render_scene(rng, width, height, n_plates)` returns a `Scene`: the BGR frame and, per
plate, its text and its axis-aligned box (x, y, w, h) in pixels. Plates are drawn last, so
a box is never hidden by another vehicle; what may cover part of a plate is a deliberate
occluder (a pole, a side object), a frame, dirt or glare, as in the field.

`Conditions` holds the ranges of every degradation; `TRAIN` is what training sees,
`HARD` is the held-out test set's harsher mix (more night, blur, JPEG, occluders), and
`CLEAN` switches every camera effect off.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from PIL import Image, ImageDraw

from alpr.synth.fonts import font
from alpr.synth.plate import PLATE_H, PLATE_W, random_plate_text, random_style, render_plate

Box = tuple[int, int, int, int]  # x, y, w, h in pixels


@dataclass(frozen=True)
class PlateLabel:
    """One plate in a scene: normalized text and axis-aligned pixel box (x, y, w, h)."""

    text: str
    box: Box


@dataclass
class Scene:
    """A rendered frame (BGR uint8) and its plates."""

    image: np.ndarray
    plates: list[PlateLabel] = field(default_factory=list)


@dataclass(frozen=True)
class Conditions:
    """Ranges the degradations are drawn from; probabilities are per scene unless noted."""

    plate_width: tuple[int, int] = (40, 300)
    max_rotation_deg: float = 12.0
    max_perspective: float = 0.18  # fraction of height one plate side may shrink (yaw)
    motion_blur_px: tuple[float, float] = (0.0, 5.0)
    motion_blur_p: float = 0.35
    focus_blur_sigma: tuple[float, float] = (0.0, 1.3)
    focus_blur_p: float = 0.35
    noise_sigma: tuple[float, float] = (0.0, 7.0)
    jpeg_quality: tuple[int, int] = (35, 95)  # (0, 0): no JPEG round trip
    night_p: float = 0.15
    ir_p: float = 0.08
    glare_p: float = 0.15  # per plate
    dirt_p: float = 0.2  # per plate
    occlusion_p: float = 0.1  # per plate
    # How far (in plate widths) an occluder reaches past its plate. At 1.0 (what the
    # committed models were trained with) it can also cover a neighbouring plate; the
    # held-out set keeps occluders local so every labelled plate stays legible.
    occluder_reach: float = 1.0
    frame_p: float = 0.3  # per plate
    distractor_signs: tuple[int, int] = (0, 3)
    # Plate texts with the letter O (the generator's convention before 2026-12-02; see
    # alpr.synth.plate.TEXT_LETTERS): TRAIN keeps it, so that `alpr train` still reproduces
    # the committed weights' data; every other set follows real US data (0, never O).
    letter_o: bool = False
    # Chance that a plate's 1s keep the font's foot serif (alpr.synth.plate._drop_feet). Real
    # US 1s have none; TRAIN and HARD keep every foot, as the committed weights and the HARD
    # test set were rendered, until a reader trained on footless 1s replaces them.
    one_foot_p: float = 1.0


TRAIN = Conditions(letter_o=True)
# No camera effects at all (no blur, noise, JPEG, night, glare, dirt, occluders): for
# label checks, recognition smoke tests and clean demo footage.
CLEAN = Conditions(
    motion_blur_p=0,
    focus_blur_p=0,
    noise_sigma=(0, 0),
    jpeg_quality=(0, 0),
    night_p=0,
    ir_p=0,
    glare_p=0,
    dirt_p=0,
    occlusion_p=0,
)
HARD = Conditions(
    plate_width=(60, 300),
    max_rotation_deg=15.0,
    max_perspective=0.24,
    motion_blur_px=(0.0, 6.0),
    motion_blur_p=0.45,
    focus_blur_sigma=(0.0, 1.5),
    focus_blur_p=0.45,
    noise_sigma=(2.0, 9.0),
    jpeg_quality=(30, 85),
    night_p=0.25,
    ir_p=0.12,
    glare_p=0.25,
    dirt_p=0.3,
    occlusion_p=0.15,
    frame_p=0.4,
    distractor_signs=(1, 4),
    occluder_reach=0.2,
)
# TRAIN with a quarter of the plates' 1s footed, the rest footless as on real US plates.
TRAIN_REAL_ONES = replace(TRAIN, one_foot_p=0.25)
# Named for the training tools, which pass a name to the rendering processes. A training set
# rendered under HARD (another seed than the test set's 9001) makes the HARD test set an
# in-distribution check, not a harder one: the model card says which sets a reader saw.
CONDITIONS = {"train": TRAIN, "hard": HARD, "clean": CLEAN, "train-real-ones": TRAIN_REAL_ONES}


def render_scene(
    rng: np.random.Generator,
    width: int = 1280,
    height: int = 720,
    n_plates: int = 1,
    conditions: Conditions = TRAIN,
    *,
    draw_plates: bool = True,
) -> Scene:
    """Render a frame with `n_plates` vehicles (fewer only if they cannot fit) and label it.

    Deterministic: the same rng state gives the same pixels and labels. `draw_plates=False`
    renders the identical frame minus the plates themselves (for checking labels).
    """
    img = _background(rng, width, height)
    for _ in range(int(rng.integers(conditions.distractor_signs[0], conditions.distractor_signs[1] + 1))):
        _distractor_sign(img, rng)

    slots = _place_plates(rng, width, height, n_plates, conditions)
    for quad in sorted(slots, key=lambda q: q[:, 1].max()):  # far (higher) vehicles first
        _vehicle(img, rng, quad)

    plates: list[PlateLabel] = []
    night = rng.random() < conditions.night_p
    ir = not night and rng.random() < conditions.ir_p
    plate_masks = np.zeros((height, width), np.float32)
    for quad in slots:
        style = random_style(rng)
        text = random_plate_text(style, rng, letter_o=conditions.letter_o)
        dirt = float(rng.uniform(0.2, 1.0)) if rng.random() < conditions.dirt_p else 0.0
        flat = render_plate(text, style, rng, frame_p=conditions.frame_p, dirt=dirt, one_foot_p=conditions.one_foot_p)
        if draw_plates:
            _paste(img, flat, quad, plate_masks)
        if rng.random() < conditions.glare_p:
            _glare(img, rng, quad)
        if rng.random() < conditions.occlusion_p:
            _occlude(img, rng, quad, conditions.occluder_reach)
        x0, y0 = np.floor(quad.min(axis=0)).astype(int)
        x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
        plates.append(PlateLabel(text, (int(x0), int(y0), int(x1 - x0), int(y1 - y0))))

    img = _camera(img, rng, conditions, night=night, ir=ir, plate_masks=plate_masks)
    return Scene(img, plates)


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    kind = int(rng.integers(3))
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    if kind == 0:  # street: sky over asphalt
        sky = rng.uniform(120, 230, 3).astype(np.float32)
        road = rng.uniform(50, 120, 1).astype(np.float32).repeat(3)
        horizon = rng.uniform(0.25, 0.5)
        img = np.where(t < horizon, sky * (1 - t), road * (0.8 + 0.4 * t)) * np.ones((1, w, 1), np.float32)
    elif kind == 1:  # garage: grey concrete, pillars
        base = float(rng.uniform(60, 170))
        img = np.full((h, w, 3), base, np.float32) * (0.8 + 0.4 * t)
        for _ in range(int(rng.integers(1, 5))):
            x = int(rng.integers(0, w))
            cv2.rectangle(img, (x, 0), (x + int(rng.integers(20, 80)), h), float(rng.uniform(90, 200)), -1)
    else:  # anything: clutter of shapes
        img = np.ones((h, w, 3), np.float32) * rng.uniform(30, 220, 3).astype(np.float32)
        for _ in range(int(rng.integers(10, 40))):
            color = tuple(float(v) for v in rng.uniform(0, 255, 3))
            p = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            s = int(rng.integers(10, max(11, w // 4)))
            shape = int(rng.integers(3))
            if shape == 0:
                cv2.rectangle(img, p, (p[0] + s, p[1] + int(s * rng.uniform(0.2, 1.5))), color, -1)
            elif shape == 1:
                cv2.circle(img, p, s // 2, color, -1)
            else:
                cv2.line(img, p, (int(rng.integers(0, w)), int(rng.integers(0, h))), color, int(rng.integers(1, 8)))
    noise = rng.normal(0, rng.uniform(2, 10), (h // 8 + 1, w // 8 + 1, 1)).astype(np.float32)
    img = img + cv2.resize(noise, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _distractor_sign(img: np.ndarray, rng: np.random.Generator) -> None:
    """Text that is not a plate (shop signs, parking notices) so the detector learns the difference."""
    h, w = img.shape[:2]
    sw = int(rng.uniform(0.08, 0.35) * w)
    sh = int(sw * rng.choice([0.15, 0.25, 0.9, 1.3]))
    x, y = int(rng.integers(0, max(1, w - sw))), int(rng.integers(0, max(1, h - sh)))
    bg = tuple(int(v) for v in rng.integers(0, 256, 3))
    ink = tuple(255 - v for v in bg)
    pil = Image.fromarray(np.ascontiguousarray(img[y : y + sh, x : x + sw]))
    if pil.size[0] < 4 or pil.size[1] < 4:
        return
    d = ImageDraw.Draw(pil)
    d.rectangle((0, 0, pil.size[0], pil.size[1]), fill=bg)
    words = ("PARKING", "EXIT", "NO STOPPING", "LEVEL 2", "PAY HERE", "ENTRANCE", "P", "CAFE 24H", "SPEED 5")
    lines = int(rng.integers(1, 4))
    size = max(6, int(sh / (lines + 1)))
    for i in range(lines):
        d.text(
            (4, 2 + i * size * 1.1),
            words[int(rng.integers(len(words)))],
            font=font("DejaVuSans-Bold.ttf", size),
            fill=ink,
        )
    img[y : y + sh, x : x + sw] = np.asarray(pil)


def _place_plates(rng: np.random.Generator, w: int, h: int, n: int, cond: Conditions) -> list[np.ndarray]:
    """Plate quadrilaterals (4x2 float, clockwise from top-left) that do not overlap."""
    lo, hi = cond.plate_width
    # Crowded frames need smaller plates: shrink the upper bound so n vehicles can fit.
    hi = min(hi, max(lo, int(np.sqrt(w * h / max(n, 1)) / 2.2)), int(w * 0.8))
    lo = min(lo, hi)
    taken: list[tuple[float, float, float, float]] = []
    quads: list[np.ndarray] = []
    for _ in range(n):
        for _attempt in range(60):
            pw = float(np.exp(rng.uniform(np.log(lo), np.log(hi + 1))))
            ph = pw * PLATE_H / PLATE_W
            if pw + 4 > w or ph + 4 > h:
                continue
            cx = rng.uniform(pw * 0.6, w - pw * 0.6) if w > pw * 1.2 else w / 2
            cy = rng.uniform(ph * 0.8, h - ph * 0.8) if h > ph * 1.6 else h / 2
            quad = _warp_rect(rng, cx, cy, pw, ph, cond)
            x0, y0 = quad.min(axis=0)
            x1, y1 = quad.max(axis=0)
            if x0 < 1 or y0 < 1 or x1 > w - 1 or y1 > h - 1:
                continue
            pad = 0.25 * pw
            box = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
            if any(not (box[2] < t[0] or box[0] > t[2] or box[3] < t[1] or box[1] > t[3]) for t in taken):
                continue
            taken.append(box)
            quads.append(quad)
            break
    return quads


def _warp_rect(rng: np.random.Generator, cx: float, cy: float, pw: float, ph: float, cond: Conditions) -> np.ndarray:
    """A plate rectangle seen at an angle: roll, yaw (one side shorter) and some shear."""
    half_w, half_h = pw / 2, ph / 2
    yaw = rng.uniform(-cond.max_perspective, cond.max_perspective)
    pitch = rng.uniform(-cond.max_perspective, cond.max_perspective) * 0.5
    left, right = half_h * (1 - max(0.0, yaw)), half_h * (1 - max(0.0, -yaw))
    top_w, bottom_w = half_w * (1 - max(0.0, pitch)), half_w * (1 - max(0.0, -pitch))
    pts = np.array([[-top_w, -left], [top_w, -right], [bottom_w, right], [-bottom_w, left]], np.float32)
    pts[:, 0] *= 1 - abs(yaw) * 0.8  # turning away also narrows the plate
    a = np.deg2rad(rng.uniform(-cond.max_rotation_deg, cond.max_rotation_deg))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    return pts @ rot.T + np.array([cx, cy], np.float32)


def _vehicle(img: np.ndarray, rng: np.random.Generator, quad: np.ndarray) -> None:
    """A vehicle rear (or front) around the plate: body, window, lights, bumper."""
    h, w = img.shape[:2]
    cx, cy = quad.mean(axis=0)
    pw = float(np.linalg.norm(quad[1] - quad[0]))
    vw = pw * rng.uniform(3.0, 4.6)
    vh = vw * rng.uniform(0.55, 0.8)
    x0 = int(cx - vw / 2 + rng.uniform(-0.08, 0.08) * vw)
    y0 = int(cy - vh * rng.uniform(0.6, 0.75))
    x1, y1 = int(x0 + vw), int(y0 + vh)
    body = tuple(float(v) for v in (rng.uniform(0, 255, 3) if rng.random() < 0.6 else np.full(3, rng.uniform(10, 240))))
    overlay = img.astype(np.float32)
    cv2.rectangle(overlay, (x0, y0 + int(vh * 0.3)), (x1, y1), body, -1)
    cv2.rectangle(overlay, (x0 + int(vw * 0.12), y0), (x1 - int(vw * 0.12), y0 + int(vh * 0.35)), body, -1)
    glass = float(rng.uniform(15, 70))
    cv2.rectangle(
        overlay,
        (x0 + int(vw * 0.17), y0 + int(vh * 0.05)),
        (x1 - int(vw * 0.17), y0 + int(vh * 0.3)),
        (glass, glass, glass * 1.1),
        -1,
    )
    light = (30.0, 30.0, float(rng.uniform(150, 255)))
    ly = y0 + int(vh * 0.38)
    cv2.rectangle(overlay, (x0 + int(vw * 0.03), ly), (x0 + int(vw * 0.18), ly + int(vh * 0.12)), light, -1)
    cv2.rectangle(overlay, (x1 - int(vw * 0.18), ly), (x1 - int(vw * 0.03), ly + int(vh * 0.12)), light, -1)
    bumper = tuple(v * 0.5 for v in body)
    cv2.rectangle(overlay, (x0, y1 - int(vh * 0.18)), (x1, y1), bumper, -1)
    for wx in (x0 + int(vw * 0.05), x1 - int(vw * 0.2)):  # tyres under the bumper
        cv2.rectangle(overlay, (wx, y1), (wx + int(vw * 0.15), min(h, y1 + int(vh * 0.1))), (15.0, 15.0, 15.0), -1)
    img[:] = np.clip(overlay, 0, 255).astype(np.uint8)


def _paste(img: np.ndarray, flat: np.ndarray, quad: np.ndarray, plate_masks: np.ndarray) -> None:
    h, w = img.shape[:2]
    src = np.array([[0, 0], [PLATE_W - 1, 0], [PLATE_W - 1, PLATE_H - 1], [0, PLATE_H - 1]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    # Pre-shrink big renders so the warp does not alias the characters.
    scale = float(np.linalg.norm(quad[1] - quad[0])) / PLATE_W
    if scale < 0.5:
        k = max(1, int(round(0.5 / scale)))
        flat = cv2.GaussianBlur(flat, (0, 0), 0.35 * k)
    warped = cv2.warpPerspective(flat, m, (w, h), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((PLATE_H, PLATE_W), np.float32), m, (w, h), flags=cv2.INTER_LINEAR)
    plate_masks[:] = np.maximum(plate_masks, mask)
    img[:] = (img * (1 - mask[..., None]) + warped * mask[..., None]).astype(np.uint8)


def _glare(img: np.ndarray, rng: np.random.Generator, quad: np.ndarray) -> None:
    h, w = img.shape[:2]
    pw = float(np.linalg.norm(quad[1] - quad[0]))
    c = quad.mean(axis=0) + rng.uniform(-0.4, 0.4, 2) * np.array([pw, pw / 2])
    spot = np.zeros((h, w), np.float32)
    axes = (max(2, int(pw * rng.uniform(0.15, 0.45))), max(2, int(pw * rng.uniform(0.08, 0.2))))
    cv2.ellipse(spot, (int(c[0]), int(c[1])), axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    spot = cv2.GaussianBlur(spot, (0, 0), max(1.0, pw * 0.06)) * rng.uniform(0.3, 0.6)
    img[:] = np.clip(img * (1 - spot[..., None]) + 255 * spot[..., None], 0, 255).astype(np.uint8)


def _occlude(img: np.ndarray, rng: np.random.Generator, quad: np.ndarray, reach: float) -> None:
    """A thin pole across the plate, or something covering one edge of it."""
    pw = float(np.linalg.norm(quad[1] - quad[0]))
    r = pw * reach
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    color = tuple(float(v) for v in rng.uniform(20, 200, 3))
    if rng.random() < 0.5:
        x = int(rng.uniform(x0, x1))
        cv2.line(
            img,
            (x, int(y0 - r)),
            (x + int(rng.uniform(-0.1, 0.1) * pw), int(y1 + r)),
            color,
            max(1, int(pw * rng.uniform(0.01, 0.035))),
        )
    else:
        cover = pw * rng.uniform(0.02, 0.07)
        if rng.random() < 0.5:
            cv2.rectangle(img, (int(x0 - r), int(y0 - r)), (int(x0 + cover), int(y1 + r)), color, -1)
        else:
            cv2.rectangle(img, (int(x1 - cover), int(y0 - r)), (int(x1 + r), int(y1 + r)), color, -1)


def _camera(
    img: np.ndarray, rng: np.random.Generator, cond: Conditions, *, night: bool, ir: bool, plate_masks: np.ndarray
) -> np.ndarray:
    """Lighting, optics and compression, applied to the whole frame."""
    f: np.ndarray = img.astype(np.float32)  # float32 while it is worked on; numpy widens some steps
    if night or ir:
        # Plates are retroreflective: under headlights or IR flash they stay bright while
        # the rest of the frame falls dark.
        dark = rng.uniform(0.12, 0.35)
        gain = dark + (1 - dark) * plate_masks[..., None] * rng.uniform(0.6, 1.0)
        f = f * gain
        if ir:
            g = f.mean(axis=2, keepdims=True)
            f = np.repeat(g, 3, axis=2) * rng.uniform(1.0, 1.3)
        else:
            f = f * np.array([1.0, 0.95, 1.05 * rng.uniform(0.9, 1.2)], np.float32)
            for _ in range(int(rng.integers(0, 3))):  # headlight blooms
                spot = np.zeros(img.shape[:2], np.float32)
                cv2.circle(
                    spot,
                    (int(rng.integers(0, img.shape[1])), int(rng.integers(0, img.shape[0]))),
                    int(rng.integers(10, 60)),
                    1.0,
                    -1,
                )
                f += cv2.GaussianBlur(spot, (0, 0), 25)[..., None] * 255 * rng.uniform(0.5, 1.0)
    else:
        f = f * rng.uniform(0.65, 1.25) + rng.uniform(-25, 25)
        f = f * rng.uniform(0.9, 1.1, 3).astype(np.float32)  # white balance
    if rng.random() < cond.motion_blur_p:
        f = _motion_blur(f, rng.uniform(*cond.motion_blur_px), rng.uniform(0, 180))
    if rng.random() < cond.focus_blur_p:
        sigma = rng.uniform(*cond.focus_blur_sigma)
        if sigma > 0.3:
            f = cv2.GaussianBlur(f, (0, 0), sigma)
    f = f + rng.normal(0, rng.uniform(*cond.noise_sigma), f.shape).astype(np.float32)
    out = np.clip(f, 0, 255).astype(np.uint8)
    if cond.jpeg_quality == (0, 0):  # no compression (label tests); draws nothing from rng
        return out
    q = int(rng.integers(cond.jpeg_quality[0], cond.jpeg_quality[1] + 1))
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    return decoded if decoded is not None else out


def _motion_blur(f: np.ndarray, length: float, angle: float) -> np.ndarray:
    k = int(round(length))
    if k < 2:
        return f
    kernel: np.ndarray = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (k, k))
    return cv2.filter2D(f, -1, kernel / max(kernel.sum(), 1e-6))
