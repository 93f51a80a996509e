"""One license plate, drawn flat: background, state banner, characters, stickers, frame.

`render_plate(text, style, rng)` returns the plate as a BGR image at a canonical 2:1 size;
the scene module warps it into a frame. Styles are loose imitations of US state designs
(colours, banner, slogan), enough variety that a detector and reader do not learn one look.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image, ImageDraw

from alpr.plates import PATTERNS, correct_format
from alpr.synth.fonts import BANNER_FONTS, PLATE_FONTS, SMALL_FONTS, font

PLATE_W, PLATE_H = 360, 180  # canonical render size; scenes shrink it to 40-300 px wide

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
# Plate texts follow the convention of real US reference data (alpr.plates.round_character):
# the round character is the digit 0. Serials draw their letters without O (most states'
# sequential series skip it: in plates-us-ocr-val 2 of 381 labels hold an O, 127 a 0) and
# vanity texts write it as 0 (C0UGAR, CUST0M, as that set does). Before 2026-12-02 the
# generator drew O like any letter, and no reader of real plates could agree with its labels.
TEXT_LETTERS = LETTERS.replace("O", "")

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class PlateStyle:
    """How one plate series looks. Colours are RGB; `formats` name entries of PATTERNS."""

    state: str
    banner: str
    slogan: str
    background: RGB
    text_color: RGB
    banner_color: RGB
    background2: RGB | None = None  # vertical gradient towards this colour
    formats: tuple[str, ...] = ("us-7-letters-first", "us-6-letters-first")
    separator: str = ""
    font: str = "DejaVuSans-Bold.ttf"
    border: RGB | None = None
    graphic: str = "none"  # none | mountains | waves | sun | band
    stickers: bool = True


STYLES: tuple[PlateStyle, ...] = (
    PlateStyle(
        "California",
        "California",
        "DMV.CA.GOV",
        (246, 246, 246),
        (20, 30, 110),
        (200, 20, 30),
        formats=("us-7-california",),
        border=(20, 30, 110),
    ),
    PlateStyle(
        "Texas",
        "TEXAS",
        "THE LONE STAR STATE",
        (250, 250, 250),
        (15, 15, 15),
        (15, 15, 15),
        background2=(225, 225, 235),
        formats=("us-7-letters-first",),
        separator="-",
        graphic="mountains",
    ),
    PlateStyle(
        "New York",
        "NEW YORK",
        "EXCELSIOR",
        (245, 242, 232),
        (20, 40, 100),
        (20, 40, 100),
        background2=(250, 200, 90),
        formats=("us-7-letters-first",),
        separator="-",
        graphic="sun",
    ),
    PlateStyle(
        "Florida",
        "FLORIDA",
        "Sunshine State",
        (248, 248, 248),
        (20, 90, 60),
        (20, 90, 60),
        formats=("us-6-letters-first", "us-7-letters-first"),
        separator=" ",
        graphic="sun",
    ),
    PlateStyle(
        "Illinois",
        "Illinois",
        "Land of Lincoln",
        (245, 245, 245),
        (160, 20, 30),
        (20, 30, 90),
        background2=(210, 225, 240),
        formats=("us-7-two-letters", "us-6-letters-first"),
        separator=" ",
    ),
    PlateStyle(
        "Arizona",
        "ARIZONA",
        "Grand Canyon State",
        (240, 225, 190),
        (40, 70, 50),
        (120, 40, 30),
        background2=(210, 130, 80),
        formats=("us-7-letters-first", "us-6-letters-first"),
        graphic="mountains",
    ),
    PlateStyle(
        "Nevada",
        "NEVADA",
        "Home Means Nevada",
        (230, 238, 250),
        (25, 45, 120),
        (25, 45, 120),
        background2=(190, 210, 240),
        formats=("us-6-digits-first", "us-7-letters-first"),
        graphic="mountains",
    ),
    PlateStyle(
        "Washington",
        "Washington",
        "EVERGREEN STATE",
        (245, 245, 250),
        (30, 40, 140),
        (30, 40, 140),
        formats=("us-7-letters-first",),
        graphic="mountains",
        border=(30, 40, 140),
    ),
    PlateStyle(
        "Oregon",
        "OREGON",
        "",
        (240, 245, 240),
        (30, 60, 30),
        (30, 60, 30),
        background2=(150, 190, 160),
        formats=("us-6-digits-first", "us-6-letters-first"),
        graphic="mountains",
    ),
    PlateStyle(
        "Pennsylvania",
        "PENNSYLVANIA",
        "visitPA.com",
        (245, 245, 240),
        (20, 30, 110),
        (20, 30, 110),
        background2=(240, 215, 120),
        formats=("us-7-letters-first",),
        separator="-",
    ),
    PlateStyle(
        "New Jersey",
        "NEW JERSEY",
        "Garden State",
        (245, 220, 120),
        (20, 20, 20),
        (20, 20, 20),
        background2=(250, 240, 190),
        formats=("us-6-letters-first", "us-7-letters-first"),
        separator=" ",
    ),
    PlateStyle(
        "Georgia",
        "GEORGIA",
        "Peach State",
        (250, 250, 250),
        (10, 10, 10),
        (10, 10, 10),
        formats=("us-7-letters-first",),
        separator=" ",
        graphic="sun",
        font="DejaVuSerif-Bold.ttf",
    ),
    PlateStyle(
        "Ohio",
        "OHIO",
        "Birthplace of Aviation",
        (245, 245, 245),
        (15, 15, 60),
        (150, 20, 30),
        background2=(200, 220, 240),
        formats=("us-7-letters-first",),
        graphic="waves",
    ),
    PlateStyle(
        "Colorado",
        "COLORADO",
        "",
        (40, 110, 60),
        (245, 245, 245),
        (245, 245, 245),
        background2=(30, 80, 45),
        formats=("us-6-digits-first", "us-7-letters-first"),
        separator="-",
        graphic="mountains",
    ),
    PlateStyle(
        "Michigan",
        "MICHIGAN",
        "Great Lakes State",
        (20, 20, 25),
        (240, 240, 240),
        (240, 240, 240),
        formats=("us-7-letters-first", "us-6-letters-first"),
        separator=" ",
    ),
    # South American layouts: the real reader data (plates-ar-ocr) is Argentine.
    PlateStyle(
        "Argentina Mercosur",
        "REPUBLICA ARGENTINA",
        "",
        (245, 245, 245),
        (15, 15, 15),
        (245, 245, 245),
        formats=("ar-mercosur",),
        separator=" ",
        border=(15, 15, 15),
        graphic="band",
        stickers=False,
    ),
    PlateStyle(
        "Argentina",
        "ARGENTINA",
        "",
        (20, 20, 22),
        (240, 240, 240),
        (240, 240, 240),
        formats=("us-6-letters-first",),
        separator=" ",
        border=(240, 240, 240),
        stickers=False,
    ),
    PlateStyle(
        "Dealer",
        "CALIFORNIA",
        "DEALER",
        (250, 250, 250),
        (170, 20, 30),
        (20, 30, 110),
        formats=("us-dealer",),
        border=(170, 20, 30),
        stickers=False,
    ),
    PlateStyle(
        "Temporary",
        "TEMPORARY",
        "EXPIRES 12/31",
        (252, 252, 245),
        (10, 10, 10),
        (10, 10, 10),
        formats=("us-temporary",),
        font="DejaVuSansMono-Bold.ttf",
        stickers=False,
    ),
)

STYLE_BY_STATE: dict[str, PlateStyle] = {s.state: s for s in STYLES}

# Vanity stems; random suffixes and letter-only strings keep the set open.
_VANITY_WORDS = (
    "GO",
    "LUV",
    "SURF",
    "CAT",
    "DOG",
    "ZOOM",
    "FAST",
    "MOM",
    "DAD",
    "KING",
    "JOY",
    "SKY",
    "RUN",
    "WAVE",
    "JAZZ",
    "BEE",
    "OWL",
    "FOX",
    "HAPPY",
    "TACO",
    "ROCK",
    "XRAY",
    "VW",
    "EV",
)


def random_plate_text(
    style: PlateStyle, rng: np.random.Generator, vanity_p: float = 0.12, letter_o: bool = False
) -> str:
    """A plate number that the style could carry (normalized, no separators). `letter_o`: the
    generator's old convention (O drawn like any letter), kept for the committed weights' data."""
    letters = LETTERS if letter_o else TEXT_LETTERS
    if rng.random() < vanity_p and style.state not in ("Dealer", "Temporary"):
        for _ in range(20):
            text = _vanity(rng, letters)
            # A vanity text that the format correction would rewrite is unreadable by any
            # reader (it is indistinguishable from a misread standard plate): draw another.
            if correct_format(text) == text:
                return text
    pattern = PATTERNS[style.formats[int(rng.integers(len(style.formats)))]]
    return "".join(
        letters[int(rng.integers(len(letters)))]
        if slot == "A"
        else DIGITS[int(rng.integers(10))]
        if slot == "9"
        else slot
        for slot in pattern
    )


def _vanity(rng: np.random.Generator, letters: str) -> str:
    if rng.random() < 0.5:
        word = _VANITY_WORDS[int(rng.integers(len(_VANITY_WORDS)))]
        word = word if "O" in letters else word.replace("O", "0")
        tail = "".join(rng.choice(list(letters + DIGITS), size=int(rng.integers(0, 3))))
        return (word + tail)[:7]
    n = int(rng.integers(2, 8))
    return "".join(rng.choice(list(letters + DIGITS if rng.random() < 0.5 else letters), size=n))


def random_style(rng: np.random.Generator) -> PlateStyle:
    """A style, with colours jittered a little so no two series are pixel-identical."""
    style = STYLES[int(rng.integers(len(STYLES)))]

    def jitter(color: RGB) -> RGB:
        r, g, b = (int(np.clip(v + rng.integers(-12, 13), 0, 255)) for v in color)
        return r, g, b

    return replace(style, background=jitter(style.background), text_color=jitter(style.text_color))


def display_text(text: str, style: PlateStyle) -> str:
    """The characters as stamped on the metal, with the style's separator (if any)."""
    if not style.separator or len(text) < 5 or not any(c.isdigit() for c in text):
        return text
    if style.formats[0] == "us-7-california":
        return text
    if style.formats[0] == "ar-mercosur" and len(text) == 7:
        return f"{text[:2]} {text[2:5]} {text[5:]}"
    split = 3 if len(text) >= 6 else 2
    return text[:split] + style.separator + text[split:]


def render_plate(
    text: str,
    style: PlateStyle,
    rng: np.random.Generator,
    *,
    frame_p: float = 0.35,
    dirt: float = 0.0,
    one_foot_p: float = 1.0,
) -> np.ndarray:
    """Draw `text` on a plate of `style`; returns a PLATE_H x PLATE_W BGR uint8 image.

    `rng` picks the small variations (offsets, stickers, a dealer frame with probability
    `frame_p`); `dirt` in [0, 1] adds grime; `one_foot_p` is the chance that the plate's 1s
    keep the font's foot serif (`_drop_feet`). The same rng state always gives the same plate.
    """
    img = _background(style, rng)
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    if style.border is not None:
        draw.rounded_rectangle((4, 4, PLATE_W - 5, PLATE_H - 5), radius=12, outline=style.border, width=4)

    banner_font = BANNER_FONTS[int(rng.integers(len(BANNER_FONTS)))]
    _draw_fit(
        draw, style.banner, font(banner_font, 34), style.banner_color, center=(PLATE_W / 2, 26), max_w=PLATE_W * 0.6
    )
    if style.slogan:
        _draw_fit(
            draw,
            style.slogan,
            font(SMALL_FONTS[int(rng.integers(len(SMALL_FONTS)))], 20),
            style.banner_color,
            center=(PLATE_W / 2, PLATE_H - 20),
            max_w=PLATE_W * 0.7,
        )
    if style.stickers:
        _stickers(draw, rng)
    for x in (PLATE_W * 0.22, PLATE_W * 0.78):  # bolt holes
        for y in (14, PLATE_H - 14):
            if rng.random() < 0.6:
                draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=(60, 60, 60))
    img = np.asarray(pil).copy()
    _characters(img, display_text(text, style), style, rng, one_foot_p)
    if rng.random() < frame_p:
        _frame(img, rng)
    if dirt > 0:
        _dirt(img, rng, dirt)
    return cv2.cvtColor(img, cv2.COLOR_RGB2BGR)


def _background(style: PlateStyle, rng: np.random.Generator) -> np.ndarray:
    top = np.array(style.background, np.float32)
    bottom = np.array(style.background2 or style.background, np.float32)
    t = np.linspace(0, 1, PLATE_H, dtype=np.float32)[:, None, None]
    img = (top * (1 - t) + bottom * t) * np.ones((1, PLATE_W, 1), np.float32)
    if style.graphic == "mountains":
        pts = [(0, PLATE_H)]
        for x in np.linspace(0, PLATE_W, 7):
            pts.append((int(x), int(PLATE_H * rng.uniform(0.55, 0.8))))
        pts.append((PLATE_W, PLATE_H))
        overlay = img.copy()
        cv2.fillPoly(overlay, [np.array(pts, np.int32)], tuple(float(v) for v in bottom * 0.85))
        img = img * 0.6 + overlay * 0.4
    elif style.graphic == "waves":
        for k in range(3):
            y0 = PLATE_H * (0.65 + 0.1 * k)
            xs = np.arange(PLATE_W)
            ys = (y0 + 6 * np.sin(xs / 25 + k)).astype(np.int32)
            for x, y in zip(xs[::2], ys[::2]):
                cv2.circle(img, (int(x), int(y)), 2, tuple(float(v) for v in bottom * 0.8), -1)
    elif style.graphic == "band":  # a dark-blue strip across the top carries the banner
        img[: int(PLATE_H * 0.26)] = (20, 50, 150)
    elif style.graphic == "sun":
        cx = int(PLATE_W * rng.uniform(0.3, 0.7))
        cv2.circle(
            img,
            (cx, int(PLATE_H * 0.55)),
            int(PLATE_H * 0.3),
            tuple(float(v) for v in (top * 0.6 + np.array([255, 200, 120]) * 0.4)),
            -1,
        )
        img = cv2.GaussianBlur(img, (0, 0), 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def _draw_fit(draw: ImageDraw.ImageDraw, text: str, fnt, color: RGB, center: tuple[float, float], max_w: float) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=fnt)
    if right - left > max_w:
        fnt = fnt.font_variant(size=max(8, int(fnt.size * max_w / (right - left))))
        left, top, right, bottom = draw.textbbox((0, 0), text, font=fnt)
    draw.text((center[0] - (left + right) / 2, center[1] - (top + bottom) / 2), text, font=fnt, fill=color)


def _characters(
    img: np.ndarray, text: str, style: PlateStyle, rng: np.random.Generator, one_foot_p: float = 1.0
) -> None:
    """Stamp the registration: rendered large, then squeezed to a plate's condensed look."""
    fnt = font(style.font if rng.random() < 0.7 else PLATE_FONTS[int(rng.integers(len(PLATE_FONTS)))], 120)
    mask_img = Image.new("L", (120 * max(len(text), 1) + 40, 180), 0)
    d = ImageDraw.Draw(mask_img)
    d.text((20, 10), text, font=fnt, fill=255)
    mask = np.asarray(mask_img)
    # Drawn only when some 1s lose their foot, so that sets rendered with the default (TRAIN,
    # HARD: every 1 footed) keep their rng sequence and stay bit-identical.
    if one_foot_p < 1.0 and "1" in text and rng.random() >= one_foot_p:
        mask = _drop_feet(mask, text, fnt, d, (20, 10))
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return
    mask = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    th = int(PLATE_H * rng.uniform(0.40, 0.50))
    tw = int(mask.shape[1] * th / mask.shape[0] * rng.uniform(0.72, 0.95))
    tw = min(tw, int(PLATE_W * rng.uniform(0.80, 0.90)))
    mask = cv2.resize(mask, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    x0 = int((PLATE_W - tw) / 2 + rng.integers(-6, 7))
    y0 = int(PLATE_H * 0.52 - th / 2 + rng.integers(-5, 6))
    x0, y0 = max(0, min(x0, PLATE_W - tw)), max(0, min(y0, PLATE_H - th))
    region: np.ndarray = img[y0 : y0 + th, x0 : x0 + tw].astype(np.float32)
    color = np.array(style.text_color, np.float32)
    if rng.random() < 0.5:  # embossed characters catch light on one edge
        shadow = np.roll(mask, (2, 2), axis=(0, 1)) * 0.5
        region = region * (1 - shadow[..., None]) + (color * 0.4) * shadow[..., None]
    region = region * (1 - mask[..., None]) + color * mask[..., None]
    img[y0 : y0 + th, x0 : x0 + tw] = np.clip(region, 0, 255).astype(np.uint8)


def _drop_feet(mask: np.ndarray, text: str, fnt, draw: ImageDraw.ImageDraw, origin: tuple[int, int]) -> np.ndarray:
    """The text mask with the foot serif of every 1 erased: a bar and its flag are left.

    Every DejaVu face draws its 1 with a foot; the 1s of real US plates have none (8 of 8
    sampled from plates-us-ocr-val, eight states). A reader trained only on footed 1s takes
    the foot as the mark of a 1 and reads the real, footless 1 as I (the CRNN: 12 of the 132
    real 1s; 127 of 469 footless synthetic 1s against 1 of 471 footed, docs/benchmarks-models.md).
    """
    out = mask.copy()
    left, top, right, bottom = fnt.getbbox("1")
    for i, ch in enumerate(text):
        if ch != "1":
            continue
        x = origin[0] + draw.textlength(text[:i], font=fnt)
        x0, x1 = int(x + left), int(np.ceil(x + right))
        y0, y1 = origin[1] + top, origin[1] + bottom
        glyph = out[y0:y1, x0:x1]
        h = glyph.shape[0]
        # The stem is what is inked half-way up; the foot is the bottom fifth outside it.
        stem = (glyph[int(h * 0.4) : int(h * 0.6)] > 127).any(axis=0)
        glyph[int(h * 0.8) :, ~stem] = 0
    return out


def _stickers(draw: ImageDraw.ImageDraw, rng: np.random.Generator) -> None:
    colors = ((230, 60, 60), (240, 200, 40), (60, 160, 70), (60, 110, 220), (240, 120, 30))
    small = font("DejaVuSans-Bold.ttf", 14)
    for x0 in (12, PLATE_W - 62):
        if rng.random() < 0.55:
            color = colors[int(rng.integers(len(colors)))]
            y0 = int(rng.integers(8, 16))
            draw.rectangle((x0, y0, x0 + 50, y0 + 24), fill=color)
            draw.text((x0 + 6, y0 + 4), f"{int(rng.integers(1, 13)):02d}", font=small, fill=(10, 10, 10))


def _frame(img: np.ndarray, rng: np.random.Generator) -> None:
    """A dealer or chrome frame: hides the plate's edges and often the slogan."""
    color = (int(rng.integers(0, 60)),) * 3 if rng.random() < 0.6 else (190, 190, 200)
    t = int(rng.integers(5, 11))
    bottom = int(rng.integers(16, 30))
    cv2.rectangle(img, (0, 0), (PLATE_W - 1, PLATE_H - 1), color, t)
    img[PLATE_H - bottom :, :] = color
    label = ("AUTO MALL", "HONDA OF TOWN", "FORD", "TOYOTA CENTER", "I'D RATHER BE FISHING")[int(rng.integers(5))]
    pil = Image.fromarray(img)
    d = ImageDraw.Draw(pil)
    ink = (235, 235, 235) if sum(color) < 300 else (20, 20, 20)
    _draw_fit(
        d,
        label,
        font("DejaVuSans-Bold.ttf", bottom - 6),
        ink,
        center=(PLATE_W / 2, PLATE_H - bottom / 2),
        max_w=PLATE_W * 0.8,
    )
    img[:] = np.asarray(pil)


def _dirt(img: np.ndarray, rng: np.random.Generator, amount: float) -> None:
    overlay = img.astype(np.float32)
    stain = np.zeros(img.shape[:2], np.float32)
    for _ in range(int(3 + 10 * amount)):
        c = (int(rng.integers(0, PLATE_W)), int(rng.integers(0, PLATE_H)))
        axes = (int(rng.integers(8, 50)), int(rng.integers(5, 30)))
        cv2.ellipse(stain, c, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0.3, 1.0)), -1)
    stain = cv2.GaussianBlur(stain, (0, 0), 6) * (0.25 + 0.35 * amount)
    speck = (rng.random(img.shape[:2]) < 0.01 * amount).astype(np.float32) * 0.6
    alpha = np.clip(stain + speck, 0, 0.7)[..., None]
    mud = np.array((95, 80, 60), np.float32)
    img[:] = np.clip(overlay * (1 - alpha) + mud * alpha, 0, 255).astype(np.uint8)
