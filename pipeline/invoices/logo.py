"""Checking that an uploaded logo really is a PNG or a harmless SVG (pure: no I/O)."""
from __future__ import annotations

import io
import re

MAX_LOGO_BYTES = 256 * 1024
# a small file may still decode to a huge bitmap (a "decompression bomb"): 4096 x 4096 is plenty
MAX_LOGO_PIXELS = 4096 * 4096
PNG = "image/png"
SVG = "image/svg+xml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk's type and CRC: every complete PNG ends with them
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
# elements that run code or pull in other documents
FORBIDDEN_SVG_ELEMENTS = {"script", "foreignobject", "iframe", "embed", "object", "audio", "video"}
EXTERNAL_URL = re.compile(r"url\(\s*['\"]?(?!#)", re.IGNORECASE)


def check_logo(data: bytes, content_type: str) -> str:
    """The normalised content type of a valid logo; ValueError saying what is wrong otherwise."""
    declared = content_type.split(";", 1)[0].strip().lower()
    if declared not in (PNG, SVG):
        raise ValueError(f"logo content type {content_type!r} is not accepted: use {PNG} or {SVG}")
    if not data:
        raise ValueError("logo is empty")
    if len(data) > MAX_LOGO_BYTES:
        raise ValueError(f"logo is {len(data)} bytes; at most {MAX_LOGO_BYTES} (256 KiB) are accepted")
    if declared == PNG:
        _check_png(data)
    else:
        _check_svg(data)
    return declared


def _check_png(data: bytes) -> None:
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("logo declared image/png does not start with the PNG signature")
    if not data.endswith(PNG_END):
        raise ValueError("logo declared image/png is truncated (it does not end with the IEND chunk)")
    from PIL import Image  # imported here: only uploads need Pillow

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


def _check_svg(data: bytes) -> None:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        # no DTD at all: entities (billion laughs) and external entities are refused with it
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException) as exc:
        raise ValueError(f"logo declared image/svg+xml is not acceptable XML: {exc}") from None
    if _local_name(root.tag) != "svg":
        raise ValueError(f"logo declared image/svg+xml has root element <{_local_name(root.tag)}>, not <svg>")
    for element in root.iter():
        name = _local_name(element.tag)
        if name.lower() in FORBIDDEN_SVG_ELEMENTS:
            raise ValueError(f"logo SVG contains a <{name}> element, which is not allowed")
        for attribute, value in element.attrib.items():
            attribute_name = _local_name(attribute).lower()
            if attribute_name.startswith("on"):
                raise ValueError(f"logo SVG has an event handler attribute {attribute_name!r} on <{name}>")
            if attribute_name == "href" and not value.strip().startswith("#"):
                raise ValueError(f"logo SVG refers to an external resource {value[:60]!r} on <{name}>")
            if attribute_name == "style" and _has_external_css(value):
                raise ValueError(f"logo SVG style on <{name}> refers to an external resource")
        if name == "style" and _has_external_css(element.text or ""):
            raise ValueError("logo SVG <style> refers to an external resource")


def _has_external_css(css: str) -> bool:
    return "@import" in css.lower() or bool(EXTERNAL_URL.search(css))


def _local_name(tag) -> str:
    tag = str(tag)
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag
