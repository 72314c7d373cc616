"""Checking that an uploaded logo really is a PNG or a harmless SVG, and what of it is stored (pure: no I/O).

A PNG is stored as uploaded once Pillow has decoded every pixel; an SVG is stored as svg_sanitize.py
rewrites it (never the raw upload), and only once svglib has drawn it: a logo is on every PDF of
its issuer, and one that fails to draw would fail them all.
"""
from __future__ import annotations

import io
import logging
from functools import lru_cache

from PIL import Image
from reportlab.graphics import renderPDF

from pipeline.invoices.pdf import svg_drawing
from pipeline.invoices.svg_sanitize import sanitize_svg

log = logging.getLogger(__name__)
MAX_LOGO_BYTES = 256 * 1024
# a small file may still decode to a huge bitmap (a "decompression bomb"): 4096 x 4096 is plenty
MAX_LOGO_PIXELS = 4096 * 4096
PNG = "image/png"
SVG = "image/svg+xml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk's type and CRC: every complete PNG ends with them


def clean_logo(data: bytes, content_type: str) -> tuple[bytes, str]:
    """(bytes to store, normalised content type) of a valid logo; ValueError saying what is wrong otherwise."""
    declared = content_type.split(";", 1)[0].strip().lower()
    if declared not in (PNG, SVG):
        raise ValueError(f"logo content type {content_type!r} is not accepted: use {PNG} or {SVG}")
    if not data:
        raise ValueError("logo is empty")
    if len(data) > MAX_LOGO_BYTES:
        raise ValueError(f"logo is {len(data)} bytes; at most {MAX_LOGO_BYTES} (256 KiB) are accepted")
    if declared == PNG:
        _check_png(data)
        return data, PNG
    cleaned = sanitize_svg(data)
    _check_drawable(cleaned)
    return cleaned, SVG


def check_logo(data: bytes, content_type: str) -> str:
    """The normalised content type of a valid logo; ValueError saying what is wrong otherwise."""
    return clean_logo(data, content_type)[1]


@lru_cache(maxsize=256)
def stored_logo(data: bytes, content_type: str) -> bytes | None:
    """A logo read back from ref.logos as it may be shown or drawn: one stored before SVGs were
    sanitised (or written to the topic by hand) is checked and sanitised now; None (logged) for one
    that would be refused today, so that it breaks no page and no PDF."""
    try:
        if content_type == SVG and sanitize_svg(data) == data:
            return data  # the sanitiser's own output: drawn once already, at upload
        return clean_logo(data, content_type)[0]
    except ValueError as exc:
        log.error("stored %s logo not shown: %s", content_type, exc)
        return None


def _check_drawable(svg: bytes) -> None:
    try:
        renderPDF.drawToString(svg_drawing(svg))  # as the invoice draws it, on a page of its own
    except Exception as exc:  # svglib and reportlab raise many kinds (ValueError, IndexError, OverflowError)
        raise ValueError(f"logo SVG cannot be drawn ({type(exc).__name__}: {str(exc)[:80]})") from None


def _check_png(data: bytes) -> None:
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("logo declared image/png does not start with the PNG signature")
    if not data.endswith(PNG_END):
        raise ValueError("logo declared image/png is truncated (it does not end with the IEND chunk)")

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()  # every chunk's CRC
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise ValueError(f"logo declared image/png decodes as {image.format}")
            width, height = image.size
            if width * height > MAX_LOGO_PIXELS:
                raise ValueError(f"logo is {width}x{height} pixels; at most {MAX_LOGO_PIXELS} pixels")
            image.load()  # decodes every pixel: a truncated or corrupt file fails here
    except ValueError:
        raise
    except Exception as exc:  # Pillow raises many kinds (OSError, SyntaxError, struct.error)
        raise ValueError(f"logo declared image/png is truncated or corrupt ({type(exc).__name__})") from None
