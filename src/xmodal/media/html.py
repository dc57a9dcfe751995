"""The visible text of an HTML page: scripts, styles and other hidden parts left out, block
elements kept apart as paragraphs, the title kept."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from xmodal.errors import DecodeError
from xmodal.media.limits import DEFAULT_LIMITS, DecodeLimits
from xmodal.media.sniff import decode_sniffed

#: elements whose content is never shown as text
_HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "math", "iframe"})
#: elements that start a new paragraph, so passages do not run headings into body text
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "wbr"})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.I)


@dataclass(frozen=True, slots=True)
class HtmlText:
    title: str
    text: str


class _Visible(HTMLParser):
    def __init__(self, max_chars: int) -> None:
        super().__init__(convert_charrefs=True)
        self.max_chars = max_chars
        self.size = 0
        self.parts: list[str] = []
        self.title: list[str] = []
        self.hidden: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in _VOID:
            pass
        elif self.hidden or tag in _HIDDEN or any(k == "hidden" for k, _ in attrs):
            # everything inside a hidden element is tracked so its end is found again
            self.hidden.append(tag)
            return
        if tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif self.hidden:
            if tag in self.hidden:
                while self.hidden.pop() != tag:
                    pass
            return
        if tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.hidden and self.size < self.max_chars:
            self.parts.append(data)
            self.size += len(data)


def _decode(data: bytes, limits: DecodeLimits) -> str:
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"), errors="replace")
        except LookupError:
            pass
    return decode_sniffed(data, limits)


def html_to_text(markup: str, limits: DecodeLimits = DEFAULT_LIMITS) -> HtmlText:
    """Visible text and title of ``markup``; paragraphs separated by blank lines."""
    parser = _Visible(limits.max_text_chars)
    parser.feed(markup)
    parser.close()
    paragraphs = (" ".join(p.split()) for p in "".join(parser.parts).split("\n\n"))
    text = "\n\n".join(p for p in paragraphs if p)
    return HtmlText(" ".join("".join(parser.title).split()), text[: limits.max_text_chars])


def read_html(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> HtmlText:
    """An HTML file's visible text; refuses a page with nothing to read."""
    page = html_to_text(_decode(data, limits), limits)
    if not page.text.strip() and not page.title:
        raise DecodeError("no text in file")
    return page
