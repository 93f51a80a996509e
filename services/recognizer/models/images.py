"""Turning untrusted bytes or arrays into the BGR uint8 frames the models expect.

Frames arrive from cameras and uploads; any of them may be truncated, not an image at all,
absurdly large (a decompression bomb), grayscale, 16-bit or with an alpha channel. Every
such case either converts cleanly or raises `BadImageError` with a message that says which.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from alpr.errors import AlprError

DEFAULT_MAX_PIXELS = 40_000_000  # ~8K x 5K; a 4K camera frame is 8.3 MP


class BadImageError(AlprError):
    """The input is not a usable image; the message says why (for the DLQ or a 4xx)."""


_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode JPEG or PNG bytes into a BGR uint8 array, or raise BadImageError.

    The size is read from the header before decoding, so an oversized image is refused
    without allocating it. Truncated files are refused even where the codec would return
    a partly grey picture.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BadImageError(f"expected image bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) == 0:
        raise BadImageError("empty image (0 bytes)")
    if data.startswith(_JPEG_SOI):
        width, height = _jpeg_size(data)
        # Encoders may pad after the end marker; a missing marker means the file was cut.
        if _JPEG_EOI not in data[-64:]:
            raise BadImageError("truncated JPEG (no end-of-image marker)")
    elif data.startswith(_PNG_SIG):
        width, height = _png_size(data)
        if b"IEND" not in data[-16:]:
            raise BadImageError("truncated PNG (no IEND chunk)")
    else:
        raise BadImageError(f"not a JPEG or PNG image (starts with {data[:4].hex()})")
    _check_size(width, height, max_pixels)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise BadImageError("corrupt image data (decoder failed)")
    return as_bgr(img, max_pixels)


def as_bgr(img: np.ndarray, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Validate a decoded image and convert it to contiguous BGR uint8 (H, W, 3).

    Accepts gray (H, W) or (H, W, 1), BGR, BGRA, and 16-bit or float images (scaled to 8 bits).
    """
    if not isinstance(img, np.ndarray):
        raise BadImageError(f"expected a numpy image, got {type(img).__name__}")
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3, 4)):
        raise BadImageError(f"unsupported image shape {img.shape}")
    _check_size(img.shape[1], img.shape[0], max_pixels)
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        scale = 255.0 if float(np.nanmax(img)) <= 1.0 else 1.0
        img = np.clip(np.nan_to_num(img) * scale, 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise BadImageError(f"unsupported pixel type {img.dtype}")
    if img.ndim == 2 or img.shape[2] == 1:
        img = cv2.cvtColor(img.reshape(img.shape[0], img.shape[1]), cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(img)


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise BadImageError(f"zero-size image ({width}x{height})")
    if width * height > max_pixels:
        raise BadImageError(f"image too large: {width}x{height} is over the limit of {max_pixels} pixels")


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise BadImageError("truncated PNG (no header)")
    return struct.unpack(">II", data[16:24])


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Width and height from the first start-of-frame marker."""
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise BadImageError("corrupt JPEG (bad marker)")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                break
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if marker == 0xDA:  # start of scan before any frame header
            break
        i += 2 + length
    raise BadImageError("truncated JPEG (no frame header)")
