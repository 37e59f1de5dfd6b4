"""An independent judge for the tests: render Markdown to HTML with markdown-it-py (CommonMark, GFM
tables and strikethrough, linkify, raw HTML, every link target allowed) and read every URL a browser
would follow or fetch out of the HTML itself, not out of the parser's tokens as agent.rendered_links
does."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it import MarkdownIt

FETCHING = {"href", "src", "action", "formaction", "poster", "background", "data", "cite", "xlink:href", "lowsrc"}
_CSS = re.compile(r"url\(|@import", re.IGNORECASE)


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(["linkify", "table", "strikethrough"])
    md.validateLink = lambda url: True
    return md


RENDERER = _renderer()


class _Followed(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            value = value or ""
            if name in FETCHING:
                self.urls.append(value.strip())
            elif name in ("srcset", "ping"):
                self.urls += [part.split()[0] for part in re.split(r"[,\s]\s*(?=\S)", value) if part.split()]
            elif name.startswith("on") or (name == "style" and _CSS.search(value)):
                self.urls.append(f"{name}={value}")

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        if _CSS.search(data) and self.lasttag == "style":
            self.urls.append(data)


def followed_urls(markdown: str) -> list[str]:
    """Every URL (or script) the rendered HTML of ``markdown`` would follow, fetch or run."""
    reader = _Followed()
    reader.feed(RENDERER.render(markdown))
    reader.close()
    return reader.urls


def unsupplied(markdown: str, supplied: list[str]) -> list[str]:
    """What a renderer would follow in ``markdown`` that is not a supplied link."""
    accepted = set(supplied) | {RENDERER.normalizeLink(url) for url in supplied}
    return [url for url in followed_urls(markdown) if url not in accepted]
