"""A small accessibility checker of rendered HTML (standard library only), for the web apps' page tests.

`problems(html)` lists what a page gets wrong, in words; an empty list is a pass. It checks what can be
read from the markup alone (WCAG 2.2 AA where the markup decides): language, title and viewport; the skip
link and the landmarks; unique ids and that every id reference points somewhere; a label for every field;
`scope` on every table header and a scrolling box around every table; a text alternative for every image
and graphic; a name for every button and link; a described problem on every field marked invalid; and no
inline style or script (the apps' Content-Security-Policy would block them). What needs a browser (contrast
of what is drawn, layout, focus) is for the axe-core run (test_apps_axe.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
FIELDS = {"input", "select", "textarea"}
NO_LABEL_NEEDED = {"hidden", "submit", "button", "reset", "image"}
HEADER_SCOPES = {"col", "row", "colgroup", "rowgroup"}
REFERENCES = ("aria-describedby", "aria-labelledby", "aria-controls")


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self) -> list[Node]:
        out: list[Node] = [self]
        for child in self.children:
            if isinstance(child, Node):
                out += child.walk()
        return out

    def ancestors(self) -> list[Node]:
        out, node = [], self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out

    def where(self) -> str:
        shown = " ".join(f'{k}="{v}"' for k, v in self.attrs.items() if k in ("id", "name", "class", "type", "href"))
        return f"<{self.tag}{' ' + shown if shown else ''}>"


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:  # a stray end tag is ignored, as browsers do
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Node:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree.root


def _named(node: Node, ids: dict[str, Node]) -> bool:
    """Has an accessible name from its content, aria-label or aria-labelledby."""
    if node.attrs.get("aria-label", "").strip() or node.text().strip():
        return True
    return any(ids.get(i) is not None for i in node.attrs.get("aria-labelledby", "").split())


def problems(html: str) -> list[str]:
    root = parse(html)
    nodes = root.walk()[1:]
    found: list[str] = []
    by_tag: dict[str, list[Node]] = {}
    for n in nodes:
        by_tag.setdefault(n.tag, []).append(n)

    counted = Counter(n.attrs["id"] for n in nodes if "id" in n.attrs)
    found += [f'id "{i}" is used {c} times' for i, c in counted.items() if c > 1]
    ids = {n.attrs["id"]: n for n in nodes if "id" in n.attrs}

    html_tag = by_tag.get("html", [])
    if not html_tag or not html_tag[0].attrs.get("lang"):
        found.append("<html> has no lang")
    titles = by_tag.get("title", [])
    if not titles or not titles[0].text().strip():
        found.append("the page has no title")
    viewports = [m for m in by_tag.get("meta", []) if m.attrs.get("name") == "viewport"]
    if not viewports or "width=device-width" not in viewports[0].attrs.get("content", ""):
        found.append("no viewport meta with width=device-width")
    if "user-scalable=no" in html or "maximum-scale=1" in html:
        found.append("the viewport forbids zooming")

    for landmark in ("header", "nav", "main"):
        if len(by_tag.get(landmark, [])) != 1:
            found.append(f"expected one <{landmark}>, found {len(by_tag.get(landmark, []))}")
    mains = by_tag.get("main", [])
    links = by_tag.get("a", [])
    focusable = [
        n for n in nodes if n.tag in ("a", "button", "input", "select", "textarea") and n.attrs.get("type") != "hidden"
    ]
    if not focusable or focusable[0].tag != "a" or focusable[0].attrs.get("href", "") != "#main":
        found.append('the first focusable element is not a skip link to "#main"')
    if mains and mains[0].attrs.get("id") != "main":
        found.append('<main> is not the skip link\'s target (id="main")')
    if len(by_tag.get("h1", [])) != 1:
        found.append(f"expected one <h1>, found {len(by_tag.get('h1', []))}")

    for n in nodes:
        for attribute in REFERENCES:
            for ref in n.attrs.get(attribute, "").split():
                if ref not in ids:
                    found.append(f'{n.where()} {attribute} names "{ref}", which is not on the page')
        if n.tag == "label" and n.attrs.get("for") and n.attrs["for"] not in ids:
            found.append(f'<label for="{n.attrs["for"]}"> labels nothing')
        if "style" in n.attrs:
            found.append(f"{n.where()} has an inline style (the CSP blocks it)")
        if n.tag == "script" and not n.attrs.get("src"):
            found.append("an inline <script> (the CSP blocks it)")
        if n.attrs.get("aria-invalid") == "true" and not n.attrs.get("aria-describedby"):
            found.append(f"{n.where()} is marked invalid without saying why (aria-describedby)")

    labelled_for = {n.attrs.get("for") for n in by_tag.get("label", [])}
    for n in nodes:
        if n.tag not in FIELDS or n.attrs.get("type", "") in NO_LABEL_NEEDED:
            continue
        wrapped = any(a.tag == "label" for a in n.ancestors())
        named = n.attrs.get("aria-label", "").strip() or any(
            r in ids for r in n.attrs.get("aria-labelledby", "").split()
        )
        if not (wrapped or named or (n.attrs.get("id") and n.attrs["id"] in labelled_for)):
            found.append(f"{n.where()} has no label")

    for th in by_tag.get("th", []):
        if th.attrs.get("scope") not in HEADER_SCOPES:
            found.append(f"<th> {th.text().strip()!r} has no scope")
    for table in by_tag.get("table", []):
        if not table.parent or "table-scroll" not in table.parent.attrs.get("class", "").split():
            found.append(f"{table.where()} is not inside a scrolling box (class table-scroll)")
    for img in by_tag.get("img", []):
        if "alt" not in img.attrs:
            found.append(f"{img.where()} has no alt")
    for svg in by_tag.get("svg", []):
        hidden = svg.attrs.get("aria-hidden") == "true"
        titled = any(isinstance(c, Node) and c.tag == "title" and c.text().strip() for c in svg.children)
        labelled = svg.attrs.get("aria-label", "").strip() or any(
            r in ids for r in svg.attrs.get("aria-labelledby", "").split()
        )
        if not (hidden or titled or (svg.attrs.get("role") == "img" and labelled)):
            found.append(f"{svg.where()} has no text alternative")
    for n in by_tag.get("button", []) + links:
        if n.tag == "a" and "href" not in n.attrs:
            continue
        if not _named(n, ids):
            found.append(f"{n.where()} has no text")
    return found
