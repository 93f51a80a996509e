"""Fonts for synthetic plates, found through matplotlib so no root or apt is needed.

matplotlib (an ultralytics dependency) ships the DejaVu families in `mpl-data/fonts/ttf/`;
asking matplotlib for its data path keeps us independent of where site-packages lives.
"""

from __future__ import annotations

import functools
import os

from PIL import ImageFont

# Families a plate maker would plausibly use: bold sans for embossed characters, mono for
# paper tags, serif/italic for the state-name banners.
PLATE_FONTS = ("DejaVuSans-Bold.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSans.ttf")
BANNER_FONTS = (
    "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSans-Bold.ttf",
)
SMALL_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf")


@functools.cache
def font_dir() -> str:
    """Directory holding matplotlib's bundled TrueType fonts."""
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf")


@functools.cache
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached PIL font by file name (e.g. "DejaVuSans-Bold.ttf") and pixel size."""
    return ImageFont.truetype(os.path.join(font_dir(), name), size)
