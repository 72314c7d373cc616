"""An uploaded SVG reduced to an allow-list and written out anew (pure: bytes in, bytes out).

Checking an upload and then storing its raw bytes trusts the check to know every trick a browser or
svglib falls for (`<set>` animating an href, `<?xml-stylesheet?>`, CSS escapes, XHTML inside SVG).
Here nothing of the upload is kept but the elements, attributes and style declarations listed below,
re-serialised by this module: what is not listed cannot reach a page or a PDF. Plainly hostile input
(scripts, event handlers, external references, CSS escapes) is refused with the reason, so the
uploader learns why; harmless unknowns (an editor's metadata) are dropped. Caps on depth, elements
and references keep every PDF of the issuer fast: a logo is drawn on each of them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

MAX_SVG_BYTES = 256 * 1024
MAX_SVG_DEPTH = 32
MAX_SVG_ELEMENTS = 5_000
# elements drawn once every <use> and url(#id) is followed: a few uses of uses multiply quickly
MAX_SVG_DRAWN = 20_000
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XHTML_NS = "http://www.w3.org/1999/xhtml"

ELEMENTS = frozenset({
    "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan", "defs",
    "linearGradient", "radialGradient", "stop", "title", "desc", "clipPath", "use",
})
TEXT_ELEMENTS = frozenset({"text", "tspan", "title", "desc"})  # the only ones whose text is kept
# refused rather than dropped: they run code, animate attributes or pull in other documents, and
# <style> would apply its rules (url(#id) among them) to every element at once
REFUSED_ELEMENTS = frozenset({
    "script", "foreignobject", "iframe", "embed", "object", "audio", "video", "image", "feimage", "set",
    "animate", "animatemotion", "animatetransform", "animatecolor", "discard", "handler", "listener", "style",
})
PRESENTATION = frozenset({
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap",
    "stroke-linejoin", "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset", "opacity", "color",
    "display", "visibility", "clip-path", "clip-rule", "stop-color", "stop-opacity", "font-family",
    "font-size", "font-weight", "font-style", "font-variant", "font-stretch", "text-anchor",
    "dominant-baseline", "letter-spacing", "word-spacing", "text-decoration",
})
ATTRIBUTES = PRESENTATION | frozenset({
    "id", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy", "fr", "width", "height",
    "d", "points", "pathLength", "viewBox", "preserveAspectRatio", "transform", "dx", "dy", "rotate",
    "textLength", "lengthAdjust", "offset", "gradientUnits", "gradientTransform", "spreadMethod",
    "clipPathUnits", "version", "style",
})
LOCAL_REF = re.compile(r"#([A-Za-z_][\w.-]*)")
LOCAL_URL = re.compile(r"url\(\s*(['\"]?)#([A-Za-z_][\w.-]*)\1\s*\)", re.IGNORECASE)
ANY_URL = re.compile(r"url\s*\(", re.IGNORECASE)
# a value is kept only in this alphabet: no escapes, at-rules, comments, ':' or ';'
SAFE_VALUE = re.compile(r"^[\w\s#.,%+\-()'\"]*$")
FUNCTION = re.compile(r"([A-Za-z-]+)\s*\(")
FUNCTIONS = frozenset({"url", "rgb", "rgba", "hsl", "hsla", "matrix", "translate", "scale", "rotate", "skewx",
                       "skewy"})
HOSTILE_VALUE = re.compile(r"\\|@|javascript:|expression\s*\(|-moz-binding", re.IGNORECASE)
ID = re.compile(r"^[A-Za-z_][\w.-]*$")


@dataclass
class Node:
    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    content: list = field(default_factory=list)  # child Nodes, and strings in text elements

    def children(self) -> list[Node]:
        return [item for item in self.content if isinstance(item, Node)]


def sanitize_svg(data: bytes) -> bytes:
    """The upload rewritten from its allowed parts only; ValueError saying why it is refused."""
    if len(data) > MAX_SVG_BYTES:
        raise ValueError(f"logo SVG is {len(data)} bytes; at most {MAX_SVG_BYTES} (256 KiB) are accepted")
    root = _parse(data)
    namespace, name = _split(root.tag)
    if name != "svg" or namespace not in ("", SVG_NS):
        raise ValueError(f"logo declared image/svg+xml has root element <{name}>, not <svg>")
    _refuse_hostile(root)
    clean = _clean(root, 1)
    _check_drawn(clean)
    out: list[str] = []
    _write(clean, out, root=True)
    return "".join(out).encode()


def _parse(data: bytes):
    try:
        # no DTD at all (entities, billion laughs); comments and processing instructions such as
        # <?xml-stylesheet?> are not even built into the tree
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, LookupError, ValueError) as exc:  # LookupError: unknown encoding
        raise ValueError(f"logo declared image/svg+xml is not acceptable XML: {exc}") from None


def _split(tag) -> tuple[str, str]:
    tag = str(tag)
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _refuse_hostile(root) -> None:
    """Everything parsed, what would be dropped too: hostile content is refused with its reason."""
    for count, element in enumerate(root.iter(), start=1):
        if count > MAX_SVG_ELEMENTS:
            raise ValueError(f"logo SVG has more than {MAX_SVG_ELEMENTS} elements")
        namespace, name = _split(element.tag)
        if namespace == XHTML_NS:
            raise ValueError(f"logo SVG contains an XHTML <{name}> element, which is not allowed")
        for attribute, value in element.attrib.items():  # before the name: the reason is the attribute's
            _refuse_hostile_attribute(name, _split(attribute)[1], value)
        if name.lower() in REFUSED_ELEMENTS:
            raise ValueError(f"logo SVG contains a <{name}> element, which is not allowed")


def _clean(element, depth: int) -> Node:
    """The element as kept: allowed children (an unknown one goes with its subtree), allowed attributes."""
    if depth > MAX_SVG_DEPTH:
        raise ValueError(f"logo SVG nests elements more than {MAX_SVG_DEPTH} deep")
    name = _split(element.tag)[1]
    node = Node(name, _attributes(element, name))
    keeps_text = name in TEXT_ELEMENTS
    if keeps_text and element.text:
        node.content.append(element.text)
    for child in element:
        namespace, child_name = _split(child.tag)
        if namespace in ("", SVG_NS) and child_name in ELEMENTS:
            node.content.append(_clean(child, depth + 1))
        if keeps_text and child.tail:  # the tail is the parent's text, whatever becomes of the child
            node.content.append(child.tail)
    return node


def _refuse_hostile_attribute(element: str, attribute: str, value: str) -> None:
    if attribute.lower().startswith("on"):
        raise ValueError(f"logo SVG has an event handler attribute {attribute!r} on <{element}>")
    if attribute == "href" and not LOCAL_REF.fullmatch(value.strip()):
        raise ValueError(f"logo SVG refers to an external resource {value[:60]!r} on <{element}>")
    if ANY_URL.search(LOCAL_URL.sub("", value)):
        raise ValueError(f"logo SVG {attribute} on <{element}> refers to an external resource")


def _refuse_hostile_value(element: str, attribute: str, value: str) -> None:
    """For what is kept: a value the allow-list would mostly drop anyway, refused so the uploader learns why."""
    if HOSTILE_VALUE.search(value):
        raise ValueError(f"logo SVG {attribute} on <{element}> has CSS escapes, @-rules or script")


def _attributes(element, name: str) -> dict[str, str]:
    kept: dict[str, str] = {}
    for attribute, value in element.attrib.items():
        namespace, local = _split(attribute)
        if local == "href" and namespace in ("", XLINK_NS):
            kept["href"] = value.strip()  # local, checked above; written as SVG 2's plain href
            continue
        if namespace or local not in ATTRIBUTES:
            continue
        _refuse_hostile_value(name, local, value)
        if local == "style":
            value = _style(value)
        elif local == "id":
            value = value if ID.match(value) else ""
        elif not _safe_value(value):
            value = ""
        if value:
            kept[local] = value
    return kept


def _style(css: str) -> str:
    declarations = []
    for declaration in css.split(";"):
        prop, colon, value = declaration.partition(":")
        prop, value = prop.strip().lower(), value.strip()
        if colon and prop in PRESENTATION and value and _safe_value(value):
            declarations.append(f"{prop}:{value}")
    return ";".join(declarations)


def _safe_value(value: str) -> bool:
    return bool(SAFE_VALUE.match(value)) and all(f.lower() in FUNCTIONS for f in FUNCTION.findall(value))


def _references(node: Node) -> list[str]:
    found = []
    for attribute, value in node.attrs.items():
        if attribute == "href":
            found.append(value[1:])
        else:
            found += [match[1] for match in LOCAL_URL.findall(value)]
    return found


def _check_drawn(root: Node) -> None:
    """Refuse reference cycles, and more than MAX_SVG_DRAWN elements drawn once references are followed."""
    by_id: dict[str, Node] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if "id" in node.attrs:
            by_id.setdefault(node.attrs["id"], node)
        stack += node.children()

    def drawn_with(node: Node) -> list[Node]:
        return node.children() + [by_id[ref] for ref in _references(node) if ref in by_id]

    # iterative depth-first count (a chain of references can be far longer than Python's stack),
    # memoised per element, saturating just above the cap; an element met again on the path is a cycle
    drawn: dict[int, int] = {}
    path = {id(root)}
    walk = [(root, drawn_with(root), iter(drawn_with(root)))]
    while walk:
        node, targets, pending = walk[-1]
        for target in pending:
            if id(target) in path:
                raise ValueError("logo SVG refers to itself (a <use> or url(#id) leads back to its own element)")
            if id(target) not in drawn:
                path.add(id(target))
                walk.append((target, drawn_with(target), iter(drawn_with(target))))
                break
        else:
            walk.pop()
            path.discard(id(node))
            drawn[id(node)] = min(1 + sum(drawn[id(target)] for target in targets), MAX_SVG_DRAWN + 1)
    if drawn[id(root)] > MAX_SVG_DRAWN:
        raise ValueError(f"logo SVG draws more than {MAX_SVG_DRAWN} elements once its <use> and url(#id) "
                         "references are followed")


def _write(node: Node, out: list[str], root: bool = False) -> None:
    out.append(f"<{node.name}")
    if root:
        out.append(f' xmlns="{SVG_NS}"')
    for attribute, value in node.attrs.items():
        out.append(f" {attribute}={quoteattr(value)}")
    if not node.content:
        out.append("/>")
        return
    out.append(">")
    for item in node.content:
        if isinstance(item, str):
            out.append(escape(item))
        else:
            _write(item, out)
    out.append(f"</{node.name}>")
