"""Untrusted image bytes and arrays: clean conversion or a BadImageError that says why."""

import struct

import cv2
import numpy as np
import pytest

from services.recognizer.models import BadImageError, as_bgr, decode_image


def _jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def _with_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    i = data.index(b"\xff\xc0")  # baseline frame header: FFC0, length, precision, height, width
    return data[: i + 5] + struct.pack(">HH", height, width) + data[i + 9 :]


FRAME = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)


def test_jpeg_round_trip_is_bgr_uint8():
    img = decode_image(_jpeg(FRAME))
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"hello, not an image", "not a JPEG or PNG"),
        (b"GIF89a" + b"\x00" * 64, "not a JPEG or PNG"),
        (b"\xff\xd8\xff", "truncated JPEG"),
    ],
)
def test_garbage_is_refused_with_a_reason(data, message):
    with pytest.raises(BadImageError, match=message):
        decode_image(data)


@pytest.mark.parametrize("keep", [0.3, 0.66, 0.99])
def test_truncated_jpeg_is_refused(keep):
    # Some libjpeg builds return a grey-filled picture for a cut file; the end marker check
    # refuses it whatever the codec does.
    data = _jpeg(FRAME)
    with pytest.raises(BadImageError, match="truncated JPEG"):
        decode_image(data[: int(len(data) * keep)])


def test_truncated_png_is_refused():
    with pytest.raises(BadImageError, match="truncated PNG"):
        decode_image(_png(FRAME)[:-30])


def test_zero_size_is_refused():
    with pytest.raises(BadImageError, match="zero-size"):
        decode_image(_with_jpeg_size(_jpeg(FRAME), 0, 48))
    with pytest.raises(BadImageError, match="zero-size"):
        as_bgr(np.zeros((0, 10, 3), np.uint8))


def test_huge_images_are_refused_before_decoding():
    # A header claiming 60000x60000 would need 10 GB if decoded; the check reads the header only.
    with pytest.raises(BadImageError, match="too large"):
        decode_image(_with_jpeg_size(_jpeg(FRAME), 60000, 60000))
    with pytest.raises(BadImageError, match="too large"):
        decode_image(_jpeg(FRAME), max_pixels=1000)
    assert decode_image(_jpeg(FRAME), max_pixels=48 * 64).shape == (48, 64, 3)


def test_grayscale_jpeg_becomes_three_equal_channels():
    gray = cv2.cvtColor(FRAME, cv2.COLOR_BGR2GRAY)
    img = decode_image(_jpeg(gray))
    assert img.shape == (48, 64, 3)
    assert np.array_equal(img[..., 0], img[..., 2])


def test_rgba_png_drops_alpha():
    bgra = np.dstack([FRAME, np.full((48, 64), 128, np.uint8)])
    img = decode_image(_png(bgra))
    assert img.shape == (48, 64, 3)
    assert np.array_equal(img, FRAME)


def test_sixteen_bit_png_is_scaled_to_eight_bits():
    img16 = FRAME.astype(np.uint16) * 257
    assert np.array_equal(decode_image(_png(img16)), FRAME)


@pytest.mark.parametrize(
    "arr, shape",
    [
        (np.zeros((10, 20), np.uint8), (10, 20, 3)),
        (np.zeros((10, 20, 1), np.uint8), (10, 20, 3)),
        (np.zeros((10, 20, 4), np.uint8), (10, 20, 3)),
        (np.ones((10, 20, 3), np.float32), (10, 20, 3)),
    ],
)
def test_arrays_are_converted(arr, shape):
    out = as_bgr(arr)
    assert out.shape == shape and out.dtype == np.uint8


def test_unusable_arrays_are_refused():
    with pytest.raises(BadImageError, match="shape"):
        as_bgr(np.zeros((10, 20, 2), np.uint8))
    with pytest.raises(BadImageError, match="numpy"):
        as_bgr(b"\xff\xd8")
