"""Image parts: sizes read from PNG/JPEG/GIF/WEBP headers, GPT-4o mini's tile rule, detail."""

from __future__ import annotations

import base64
import struct

import pytest

from minidouble import count_prompt_tokens
from minidouble._model._images import data_url_size, image_size, image_tokens
from minidouble._model._profile import GPT4O_MINI, ImageSize

RULES = GPT4O_MINI.tokens.image


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + b"\0\0\0\0"


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00;"


def jpeg(width: int, height: int, exif_bytes: int = 16) -> bytes:
    app1 = b"\xff\xe1" + struct.pack(">H", exif_bytes + 2) + b"E" * exif_bytes
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app1 + sof0 + b"\xff\xd9"


def webp_lossy(width: int, height: int) -> bytes:
    frame = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
    chunk = b"VP8 " + struct.pack("<I", len(frame)) + frame
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def webp_lossless(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    frame = b"\x2f" + bits.to_bytes(4, "little")
    chunk = b"VP8L" + struct.pack("<I", len(frame)) + frame
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def webp_extended(width: int, height: int) -> bytes:
    payload = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little")
    payload += (height - 1).to_bytes(3, "little")
    chunk = b"VP8X" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def image_request(url: str, detail: str | None = None) -> dict[str, object]:
    image: dict[str, object] = {"url": url}
    if detail is not None:
        image["detail"] = detail
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": image}]}],
    }


@pytest.mark.parametrize(
    "encode", [png, gif, jpeg, webp_lossy, webp_lossless, webp_extended], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("size", [(1, 1), (640, 480), (4_000, 3_000), (16_383, 7)])
def test_every_format_reports_its_size(encode: object, size: tuple[int, int]) -> None:
    width, height = size
    assert callable(encode)
    assert image_size(encode(width, height)) == ImageSize(width, height)


def test_jpeg_size_behind_a_large_exif_block_is_found() -> None:
    big = jpeg(800, 600, exif_bytes=60_000)
    assert data_url_size(data_url(big, "image/jpeg")) == ImageSize(800, 600)


def test_unknown_bytes_have_no_size() -> None:
    assert image_size(b"not an image at all") is None
    assert data_url_size("data:image/png;base64,!!!notbase64") is None
    assert data_url_size("data:image/png,rawbytes") is None


def test_640_by_480_is_two_tiles_as_recorded() -> None:
    # 7 of 7 recorded gpt-4o-mini requests with a 640x480 image: 14,167 image tokens.
    assert image_tokens(ImageSize(640, 480), "auto", RULES) == 14_167


@pytest.mark.parametrize(
    ("size", "tiles"),
    [
        ((512, 512), 1),
        ((513, 512), 2),
        ((1_024, 1_024), 4),  # short side scaled down to 768: 768x768
        ((1_536, 1_024), 6),  # short side to 768: 1152x768, 3x2
        ((4_096, 1_024), 4),  # fitted into 2048: 2048x512, 4x1
        ((100, 10_000), 4),  # fitted into 2048: 20x2048, 1x4
        ((300, 200), 1),  # never scaled up
    ],
)
def test_tile_rule(size: tuple[int, int], tiles: int) -> None:
    width, height = size
    tokens = image_tokens(ImageSize(width, height), "high", RULES)
    assert tokens == RULES.base_tokens + RULES.tile_tokens * tiles


def test_detail_low_is_the_base_cost_whatever_the_size() -> None:
    for size in (ImageSize(1, 1), ImageSize(4_000, 4_000)):
        assert image_tokens(size, "low", RULES) == RULES.base_tokens


def test_detail_auto_and_omitted_count_as_high() -> None:
    url = data_url(png(1_024, 1_024))
    high = count_prompt_tokens(image_request(url, "high"))
    assert count_prompt_tokens(image_request(url, "auto")) == high
    assert count_prompt_tokens(image_request(url)) == high
    assert high - count_prompt_tokens(image_request(url, "low")) == 4 * RULES.tile_tokens


def test_image_part_adds_only_its_tokens_to_the_message() -> None:
    url = data_url(gif(640, 480), "image/gif")
    with_image = count_prompt_tokens(image_request(url))
    empty = count_prompt_tokens({"messages": [{"role": "user", "content": []}]})
    assert with_image - empty == 14_167


def test_remote_url_counts_as_the_profiles_assumed_size() -> None:
    assumed = RULES.assumed_remote_size
    remote = count_prompt_tokens(image_request("https://example.com/cat.png"))
    measured = count_prompt_tokens(image_request(data_url(png(assumed.width, assumed.height))))
    assert remote == measured


def test_unreadable_data_url_counts_as_the_assumed_size_instead_of_crashing() -> None:
    broken = count_prompt_tokens(image_request("data:image/png;base64,AAAA"))
    remote = count_prompt_tokens(image_request("https://example.com/cat.png"))
    assert broken == remote
