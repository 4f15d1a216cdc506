"""HTML to Markdown in pure Python (the standard library's `html.parser`), for `VisitWebpageTool`.

It keeps what a model reads: headings, paragraphs, links (made absolute), lists, quotes, code,
emphasis and tables; it drops scripts, styles, forms and other page furniture.

>>> html_to_markdown('<h1>Title</h1><p>Some <b>bold</b> <a href="/x">link</a>.</p>', "https://a.org/p")
'# Title\\n\\nSome **bold** [link](https://a.org/x).'
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

_SKIP = {"script", "style", "noscript", "template", "svg", "iframe", "head", "form", "button", "select",
         "canvas", "object"}
_BLOCKS = {"p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "figure",
           "figcaption", "table", "dl", "dt", "dd", "address", "details", "summary"}
_INLINE = {"code": "`", "strong": "**", "b": "**", "em": "*", "i": "*"}  # the same mark opens and closes
_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


class _Converter(HTMLParser):
    def __init__(self, base_url: str):
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.out: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        self.lists: list[list] = []  # [kind, counter] per open list
        self.links: list[str | None] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.rows_done = 0
        self.title: list[str] | None = None
        self.page_title = ""

    # -- output ------------------------------------------------------------------------------
    def emit(self, text: str) -> None:
        (self.cell if self.cell is not None else self.out).append(text)

    def block(self, lines: int = 2) -> None:
        if self.cell is not None:
            self.cell.append(" ")
        else:
            self.out.append("\n" * lines)

    # -- parser callbacks ----------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "title":
            self.title = []
            return
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if re.fullmatch(r"h[1-6]", tag):
            self.block()
            self.emit("#" * int(tag[1]) + " ")
        elif tag in _BLOCKS:
            self.block()
        elif tag == "br":
            self.emit("\n")
        elif tag == "hr":
            self.block()
            self.emit("---")
            self.block()
        elif tag in ("ul", "ol"):
            self.block(1 if self.lists else 2)
            self.lists.append([tag, 0])
        elif tag == "li":
            self.block(1)
            kind = self.lists[-1] if self.lists else ["ul", 0]
            kind[1] += 1
            marker = f"{kind[1]}. " if kind[0] == "ol" else "- "
            self.emit("  " * max(len(self.lists) - 1, 0) + marker)
        elif tag == "blockquote":
            self.block()
            self.emit("> ")
        elif tag == "pre":
            self.block()
            self.emit("```\n")
            self.pre_depth += 1
        elif tag in _INLINE and not (tag == "code" and self.pre_depth):
            self.emit(_INLINE[tag])
        elif tag == "a":
            href = attributes.get("href")
            usable = href and not href.startswith(("javascript:", "#"))
            self.links.append(urljoin(self.base_url, href) if usable else None)
            if usable:
                self.emit("[")
        elif tag == "img" and attributes.get("alt"):
            self.emit(f"![{attributes['alt']}]")
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            if self.title is not None:
                self.page_title = " ".join("".join(self.title).split())
            self.title = None
            return
        if tag in _SKIP:
            self.skip_depth = max(self.skip_depth - 1, 0)
            return
        if self.skip_depth:
            return
        if re.fullmatch(r"h[1-6]", tag) or tag in _BLOCKS or tag == "blockquote":
            self.block()
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self.block(1 if self.lists else 2)
        elif tag == "pre":
            self.pre_depth = max(self.pre_depth - 1, 0)
            self.emit("\n```")
            self.block()
        elif tag in _INLINE and not (tag == "code" and self.pre_depth):
            self.emit(_INLINE[tag])
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href:
                self.emit(f"]({href})")
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()).replace("|", "\\|"))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.out.append("\n| " + " | ".join(self.row) + " |")
            if self.rows_done == 0:
                self.out.append("\n|" + " --- |" * len(self.row))
            self.rows_done += 1
            self.row = None
        if tag == "table":
            self.rows_done = 0

    def handle_data(self, data: str) -> None:
        if self.title is not None:
            self.title.append(data)
            return
        if self.skip_depth:
            return
        self.emit(data if self.pre_depth else re.sub(r"\s+", " ", data))


def html_to_markdown(html: str, base_url: str = "") -> str:
    """The page as Markdown; its `<title>` as a first heading when the body has no `h1`."""
    converter = _Converter(base_url)
    converter.feed(html)
    converter.close()
    text = "".join(converter.out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n[ \t]+(?=[^\s-]|-\s)", "\n", text) if "```" not in text else text
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if converter.page_title and not re.search(r"^# ", text, re.MULTILINE):
        text = f"# {converter.page_title}\n\n{text}"
    return text


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters: the start and the end, with a note of what was cut in between."""
    if len(text) <= limit:
        return text
    head = limit // 2
    tail = limit - head
    return (f"{text[:head]}\n\n..._This content was truncated to stay below {limit} characters "
            f"({len(text) - limit} characters cut)_...\n\n{text[-tail:]}")
