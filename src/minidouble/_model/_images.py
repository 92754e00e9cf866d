"""Image sizes from file headers, and GPT-4o mini's tile rule, without an imaging library.

Only the first few hundred bytes of a base64 data URL are decoded: a 20 MB screenshot costs
the same as a 1 KB icon to measure.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct

from minidouble._model._profile import ImageRules, ImageSize

__all__ = ["ImageSize", "data_url_size", "image_size", "image_tokens"]

# Enough for every header we read: PNG/GIF/WEBP need < 40 bytes; JPEG's SOF marker sits after
# APPn/EXIF segments, which the scanner skips by length, so it decodes more on demand.
_HEAD_BYTES = 4_096


def image_size(data: bytes) -> ImageSize | None:
    """Width and height from a PNG, JPEG, GIF or WEBP header; ``None`` if unrecognised."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return ImageSize(width, height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return ImageSize(width, height)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _webp_size(data: bytes) -> ImageSize | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return ImageSize(width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return ImageSize((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageSize(width, height)
    return None


# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> ImageSize | None:
    offset = 2
    while offset + 9 < len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers, no length
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return ImageSize(width, height)
        offset += 2 + length
    return None


def data_url_size(url: str) -> ImageSize | None:
    """Size of the image in a ``data:image/...;base64,`` URL, decoding only its header."""
    comma = url.find(",")
    if comma < 0 or ";base64" not in url[:comma]:
        return None
    payload = url[comma + 1 :]
    size = _decoded_size(payload[: _HEAD_BYTES // 3 * 4])
    if size is None and len(payload) > _HEAD_BYTES // 3 * 4:
        # A JPEG whose frame header sits behind a large EXIF/ICC segment: decode it all.
        size = _decoded_size(payload)
    return size


def _decoded_size(chunk: str) -> ImageSize | None:
    chunk = chunk.strip()
    chunk = chunk[: len(chunk) // 4 * 4]
    try:
        return image_size(base64.b64decode(chunk))
    except (binascii.Error, ValueError):
        return None


def image_tokens(size: ImageSize, detail: str, rules: ImageRules) -> int:
    """Prompt tokens for one image: a base cost, plus tiles unless ``detail`` is ``low``."""
    if detail == "low":
        return rules.base_tokens
    width, height = float(size.width), float(size.height)
    if width <= 0 or height <= 0:
        return rules.base_tokens
    if max(width, height) > rules.fit_within:
        scale = rules.fit_within / max(width, height)
        width, height = width * scale, height * scale
    if min(width, height) > rules.short_side:
        scale = rules.short_side / min(width, height)
        width, height = width * scale, height * scale
    tiles = math.ceil(width / rules.tile_size) * math.ceil(height / rules.tile_size)
    return rules.base_tokens + rules.tile_tokens * tiles
