"""Fuzzing the SVG sanitiser: any bytes give a sanitised SVG or a ValueError, never another
exception (the API would answer 500), and what comes out holds nothing off the allow-list."""
from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from defusedxml.ElementTree import fromstring
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from pipeline.invoices.logo import clean_logo
from pipeline.invoices.pdf import render_pdf
from pipeline.invoices.svg_sanitize import (
    ATTRIBUTES,
    ELEMENTS,
    LOCAL_URL,
    MAX_SVG_DEPTH,
    MAX_SVG_ELEMENTS,
    PRESENTATION,
    SVG_NS,
    sanitize_svg,
)
from tests.unit.invoices.examples import example_invoice

ROOT = ("<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink' "
        "xmlns:h='http://www.w3.org/1999/xhtml' xmlns:ink='http://www.inkscape.org/namespaces/inkscape'{attrs}>")
# mostly allowed names, then hostile ones and ones that are merely unknown (dropped)
OTHER_NAMES = ["script", "set", "animate", "foreignObject", "image", "style", "h:img", "a", "metadata", "Rect",
               "ink:layer", "symbol", "mask", "pattern"]
NAMES = st.one_of(*[st.sampled_from(sorted(ELEMENTS))] * 4, st.sampled_from(OTHER_NAMES))
ATTRIBUTE_NAMES = ["fill", "stroke", "style", "href", "xlink:href", "id", "transform", "width", "height", "d",
                   "x", "r", "class", "mask", "clip-path", "offset", "stop-color", "font-family", "onload",
                   "ink:label", "xlink:title", "data-x", "viewBox", "filter"]
XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=16)  # what XML can carry
SAFE_VALUES = st.sampled_from(["#a", "#b", "a", "b", "url(#a)", "url('#b')", "red", "rgb(1,2,3)", "10", "50%",
                               "fill:url(#a);stroke:blue", "translate(1 2) scale(2)", "M0 0L10 10z", "abc",
                               "font-size:12px;color:red", "calc(1px)", "1e999", "fill:red;-x-y:z"])
HOSTILE_VALUES = st.sampled_from(["url(https://x/y)", "fill:u\\72l(x)", "@import 'x'", "javascript:alert(1)",
                                  "expression(1)", "fill:red;behavior:url(x.htc)", "data:x"])
# mostly harmless values, so that large documents get through to the allow-list, not only refusals
VALUES = st.one_of(SAFE_VALUES, SAFE_VALUES, SAFE_VALUES, XML_TEXT, HOSTILE_VALUES)


def _attrs(pairs) -> str:
    return "".join(f" {name}={quoteattr(value)}" for name, value in dict(pairs).items())


def documents(names, attribute_names, values):
    attributes = st.lists(st.tuples(st.sampled_from(attribute_names), values), max_size=4)
    text = XML_TEXT.map(escape)
    element = st.recursive(
        st.tuples(names, attributes, text).map(lambda e: f"<{e[0]}{_attrs(e[1])}>{e[2]}</{e[0]}>"),
        lambda children: st.tuples(names, attributes, st.lists(st.one_of(children, text), max_size=6)).map(
            lambda e: f"<{e[0]}{_attrs(e[1])}>{''.join(e[2])}</{e[0]}>"),
        max_leaves=40)
    return st.tuples(
        st.sampled_from(["", "<?xml version='1.0'?>", "<?xml-stylesheet href='x.css'?>", "<!-- c -->"]),
        attributes, st.lists(element, max_size=4),
    ).map(lambda d: (d[0] + ROOT.format(attrs=_attrs(d[1])) + "".join(d[2]) + "</svg>").encode())


DOCUMENT = documents(NAMES, ATTRIBUTE_NAMES, VALUES)
# nothing that is refused outright: large documents reach the allow-list and the re-serialisation
BENIGN = documents(st.one_of(*[st.sampled_from(sorted(ELEMENTS))] * 4, st.sampled_from(
    ["metadata", "Rect", "ink:layer", "symbol", "mask", "pattern"])),
    [name for name in ATTRIBUTE_NAMES if name not in ("href", "xlink:href", "onload")], SAFE_VALUES)


def assert_only_allowed(cleaned: bytes) -> None:
    root = fromstring(cleaned, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    stack, count = [(root, 1)], 0
    while stack:
        element, depth = stack.pop()
        count += 1
        namespace, _, name = element.tag[1:].partition("}")
        assert namespace == SVG_NS and name in ELEMENTS, element.tag
        assert depth <= MAX_SVG_DEPTH
        for attribute, value in element.attrib.items():
            assert attribute in ATTRIBUTES | {"href"}, attribute  # no namespace, no on*, no class
            assert "\\" not in value and "@" not in value and "javascript:" not in value.lower()
            assert "url(" not in LOCAL_URL.sub("", value).lower(), value
            if attribute == "href":
                assert value.startswith("#") and ":" not in value
            if attribute == "style":
                assert all(d.split(":", 1)[0] in PRESENTATION for d in value.split(";")), value
        stack += [(child, depth + 1) for child in element]
    assert count <= MAX_SVG_ELEMENTS


@given(document=st.one_of(DOCUMENT, BENIGN))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_svg_is_sanitised_to_the_allow_list_or_refused_with_valueerror(document):
    try:
        cleaned = sanitize_svg(document)
    except ValueError:
        return
    target(float(cleaned.count(b"<")))  # steer towards large documents that get through
    assert_only_allowed(cleaned)
    assert sanitize_svg(cleaned) == cleaned  # a stored logo read back is left as it is


@given(data=st.binary(max_size=2048),
       prefix=st.sampled_from([b"", b"<svg xmlns='http://www.w3.org/2000/svg'>", b"<?xml", b"<svg><g>",
                               b"<?xml version='1.0' encoding='x-unknown'?><svg/>", b"\xef\xbb\xbf<svg>"]))
@settings(max_examples=300, deadline=None)
def test_any_bytes_are_an_svg_or_a_valueerror(data, prefix):
    try:
        cleaned = sanitize_svg(prefix + data)
    except ValueError:
        return
    assert_only_allowed(cleaned)


@given(document=st.one_of(DOCUMENT, BENIGN))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_an_accepted_logo_always_draws_on_the_invoice(document):
    try:
        stored, content_type = clean_logo(document, "image/svg+xml")
    except ValueError:
        return
    assert render_pdf(example_invoice(), (stored, content_type)).startswith(b"%PDF")
