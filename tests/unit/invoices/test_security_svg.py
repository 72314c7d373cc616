"""Security audit, SVG logos: what the old check let through is refused, and what is
stored is the sanitised rewrite, never the upload (pipeline/invoices/svg_sanitize.py).

Every test here goes through `check_logo` and `publish_logo`, the interface the API and the CLI
use; the sanitiser's own properties are fuzzed in test_security_svg_fuzz.py."""
from __future__ import annotations

import asyncio

import pytest
from defusedxml.ElementTree import fromstring

from pipeline.invoices import issuer as issuer_module
from pipeline.invoices.issuer import check_logo, publish_logo
from pipeline.settings import Settings

SVG = "image/svg+xml"
OPEN = b"<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink' width='20' height='10'>"


def svg(body: bytes, head: bytes = b"") -> bytes:
    return head + OPEN + body + b"</svg>"


def use_bomb(levels: int = 6, fan_out: int = 10) -> bytes:
    """Each level draws the one below ten times: 10**6 rectangles from 61 elements."""
    body = b"<defs><rect id='l0' width='1' height='1'/>"
    for level in range(1, levels + 1):
        body += f"<g id='l{level}'>".encode() + f"<use href='#l{level - 1}'/>".encode() * fan_out + b"</g>"
    return svg(body + f"</defs><use href='#l{levels}'/>".encode())


@pytest.mark.parametrize("data, words", [
    # <set> animates an attribute: the href of an <a> or <use> becomes javascript: once drawn
    (svg(b"<a href='#x'><set attributeName='href' to='javascript:alert(1)'/><text>x</text></a>"), "<set>"),
    (svg(b"<rect><animate attributeName='fill' values='url(https://x/y)'/></rect>"), "<animate>"),
    # XHTML elements straight inside the SVG, without a <foreignObject>
    (svg(b"<h:img xmlns:h='http://www.w3.org/1999/xhtml' src='https://evil.example/t.png'/>"), "XHTML <img>"),
    # a CSS escape spells url( without the letters the old regex looked for
    (svg(b"<rect style='fill:u\\72l(https://evil.example/p)'/>"), "CSS escapes"),
    (svg(b"<rect style='fill:red;@import url(x.css)'/>"), "external resource"),
    (svg(b"<rect fill='url(https://evil.example/p)'/>"), "external resource"),
    (svg(b"<image xlink:href='data:image/png;base64,AAAA'/>"), "external resource"),
    (svg(b"<style>rect{fill:red}</style>"), "<style>"),
    (svg(b"<g>" * 40 + b"</g>" * 40), "more than 32 deep"),
    (svg(b"<rect/>" * 6000), "more than 5000 elements"),
    (use_bomb(), "draws more than"),
    (svg(b"<g id='a'><use href='#a'/></g>"), "refers to itself"),
    # well-formed, allowed, and still breaks svglib: every PDF of the issuer would fail
    (svg(b"<rect width='abc' height='1'/>"), "cannot be drawn"),
    (svg(b"<circle r='1e999'/>"), "cannot be drawn"),
])
def test_what_the_old_check_let_through_is_refused_with_the_reason(data, words):
    with pytest.raises(ValueError, match=words):
        check_logo(data, SVG)


class CapturingProducer:
    """What publish_logo sends to ref.logos."""

    sent: list[tuple[str, bytes, bytes, list]] = []

    def __init__(self, *args, **kwargs) -> None:
        pass

    def producer(self, **kwargs):
        return self

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send_and_wait(self, topic, value, key, headers):
        CapturingProducer.sent.append((topic, value, key, headers))


@pytest.fixture
def captured(monkeypatch):
    async def no_topics(settings):
        return None

    CapturingProducer.sent = []
    monkeypatch.setattr(issuer_module, "KafkaClients", CapturingProducer)
    monkeypatch.setattr(issuer_module, "ensure_invoice_topics", no_topics)
    return CapturingProducer.sent


UPLOAD = (b"<?xml version='1.0'?>\n<?xml-stylesheet href='https://evil.example/x.css' type='text/css'?>\n"
          b"<!-- made by hand -->" + OPEN +
          b"<metadata><x:rdf xmlns:x='urn:x'>secret</x:rdf></metadata>"
          b"<g id='logo' class='c' data-x='1' mask='url(#m)'><rect width='20' height='10' fill='#c00'"
          b" xlink:href='#logo2' inkscape:label='L' xmlns:inkscape='http://www.inkscape.org/namespaces/inkscape'/>"
          b"<text x='1' y='9' font-family='DejaVu Sans'>ACME &amp; Co<tspan>!</tspan></text></g></svg>")


def test_the_stored_logo_is_the_sanitised_rewrite_not_the_upload(captured):
    stored_type = asyncio.run(publish_logo(Settings(topic_prefix="t-"), "r1", UPLOAD, SVG))
    [(_, value, key, headers)] = captured
    assert (stored_type, key, headers) == (SVG, b"r1", [("content-type", SVG.encode())])
    assert value != UPLOAD
    for gone in (b"xml-stylesheet", b"made by hand", b"metadata", b"secret", b"class=", b"data-x", b"mask",
                 b"inkscape", b"xlink"):
        assert gone not in value, gone
    root = fromstring(value, forbid_dtd=True)
    assert [element.tag.rsplit("}", 1)[-1] for element in root.iter()] == ["svg", "g", "rect", "text", "tspan"]
    rect = root.find("{http://www.w3.org/2000/svg}g/{http://www.w3.org/2000/svg}rect")
    assert rect.attrib == {"width": "20", "height": "10", "fill": "#c00", "href": "#logo2"}
    assert "".join(root.find("{http://www.w3.org/2000/svg}g/{http://www.w3.org/2000/svg}text").itertext()) \
        == "ACME & Co!"


def test_a_png_is_stored_as_uploaded(captured):
    from tests.unit.invoices.test_invoice_logo import png

    image = png()
    asyncio.run(publish_logo(Settings(topic_prefix="t-"), "r1", image, "image/png"))
    assert captured[0][1] == image


INKSCAPE = b'''<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!-- Created with Inkscape (http://www.inkscape.org/) -->
<svg width="210mm" height="80mm" viewBox="0 0 210 80" version="1.1" id="svg5"
   xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
   xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
   xmlns:xlink="http://www.w3.org/1999/xlink" xmlns="http://www.w3.org/2000/svg"
   xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:cc="http://creativecommons.org/ns#">
  <sodipodi:namedview id="namedview7" pagecolor="#ffffff" inkscape:zoom="0.7" />
  <defs id="defs2">
    <linearGradient id="g1"><stop style="stop-color:#ff0000;stop-opacity:1;" offset="0" id="s1" />
      <stop style="stop-color:#0000ff;stop-opacity:1" offset="1" id="s2" /></linearGradient>
    <linearGradient xlink:href="#g1" id="g3" x1="10" y1="10" x2="100" y2="10" gradientUnits="userSpaceOnUse" />
  </defs>
  <metadata><rdf:RDF><cc:Work rdf:about=""><cc:license rdf:resource="http://creativecommons.org/licenses/by/4.0/"/>
  </cc:Work></rdf:RDF></metadata>
  <g inkscape:label="Layer 1" inkscape:groupmode="layer" id="layer1">
    <rect style="fill:url(#g3);stroke:#000000;stroke-width:0.26;-inkscape-stroke:none" width="90" height="40"
      x="10" y="10" ry="5" />
    <text xml:space="preserve" style="font-size:10.58px;line-height:1.25;font-family:'DejaVu Sans'" x="110" y="40">
      <tspan sodipodi:role="line" x="110" y="40">ACME Telecom</tspan></text>
  </g>
</svg>'''


def test_an_editors_logo_keeps_its_drawing_and_loses_its_editor_data(captured):
    asyncio.run(publish_logo(Settings(topic_prefix="t-"), "r1", INKSCAPE, SVG))
    stored = captured[0][1]
    assert b"sodipodi" not in stored and b"inkscape" not in stored and b"rdf" not in stored
    assert b'style="fill:url(#g3);stroke:#000000;stroke-width:0.26"' in stored
    assert b'href="#g1"' in stored and b"ACME Telecom" in stored
    from pipeline.invoices.pdf import render_pdf
    from tests.unit.invoices.examples import example_invoice

    assert render_pdf(example_invoice(), (stored, SVG)).startswith(b"%PDF")
