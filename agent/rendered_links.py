"""The judge of the link rule: what a Markdown renderer will actually link, found by rendering.

The guard's regexes rewrite drafts; this module decides. It parses the final answer with
markdown-it-py (the parser rich uses) set up to link as much as any common renderer would:
CommonMark, GFM tables and strikethrough, linkify (bare domains, ``www.``, e-mail addresses), raw
HTML on, and every link target accepted (``javascript:`` too), then collects every URL a browser
would follow or fetch: link and image targets (entities decoded), autolinks, linkified text, and the
URL attributes of raw HTML (``href``, ``src``, ``srcset``, ``action``, ``formaction``, ``ping``,
``poster``, ``background``, ``style`` ``url(…)`` and more; ``on…`` handlers count too).

``enforce`` keeps only URLs string-equal to a supplied field and cuts the rest: first the one spot
(the linkified text or HTML tag made inert), then the block's lines escaped, then the block's lines
dropped, re-parsing after each step until nothing unsupplied is left. The guard's rewriter and the
escaping of untrusted text normally leave it nothing to cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.token import Token

from agent.markdown_text import inline

URL_ATTRIBUTES = frozenset(
    "href src srcset action formaction ping poster background data cite codebase longdesc manifest "
    "lowsrc dynsrc icon profile archive usemap xlink:href imagesrcset".split()
)
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")\s]*)|@import\s+['\"]([^'\"]*)", re.IGNORECASE)
_REFRESH = re.compile(r"url\s*=\s*['\"]?([^'\";\s]+)", re.IGNORECASE)
_CONTAINER = re.compile(r"^(?:[ \t]*(?:>[ \t]?|[-*+][ \t]+|\d{1,9}[.)][ \t]+))*[ \t]*")
_MAX_ROUNDS = 8


@cache
def parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(["linkify", "table", "strikethrough"])
    md.validateLink = lambda url: True  # judge every target, even schemes a renderer would refuse
    return md


@dataclass(frozen=True)
class RenderedLink:
    """One URL a renderer makes followable or fetchable."""

    url: str  # as the renderer resolves it: entities decoded, normalised (percent-encoding, punycode)
    lines: tuple[int, int]  # the source lines of the block it sits in
    source: str | None = None  # its exact source text, when the parser gives it (linkified text, a tag)


class _Attributes(HTMLParser):
    """The URLs in a piece of raw HTML, the way a browser reads its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        for name, value in values.items():
            if name in ("srcset", "imagesrcset"):
                self.urls += [part.split()[0] for part in value.split(",") if part.split()]
            elif name == "ping":
                self.urls += value.split()
            elif name in URL_ATTRIBUTES:
                self.urls.append(value.strip())
            elif name == "style":
                self.urls += [a or b for a, b in _CSS_URL.findall(value)]
            elif name.startswith("on"):
                self.urls.append(f"{name}={value}")  # script runs: as bad as any unsupplied link
        if tag == "meta" and "url" in values.get("content", "").lower():
            self.urls += _REFRESH.findall(values["content"])

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:  # <style>@import …</style>
        self.urls += [a or b for a, b in _CSS_URL.findall(data)]


def html_urls(html: str) -> list[str]:
    reader = _Attributes()
    reader.feed(html)
    reader.close()
    return reader.urls


def rendered_links(markdown: str) -> list[RenderedLink]:
    """Every URL a renderer of ``markdown`` would link to or fetch, in reading order."""
    found: list[RenderedLink] = []
    lines = (0, 0)
    for token in parser().parse(markdown):
        lines = tuple(token.map) if token.map else lines  # type: ignore[assignment]
        if token.type == "html_block":
            found += [RenderedLink(url, lines) for url in html_urls(token.content)]
        for i, child in enumerate(token.children or []):
            found += _inline_links(child, token.children[i + 1 : i + 2], lines)  # type: ignore[index]
    return found


def _inline_links(token: Token, after: list[Token], lines: tuple[int, int]) -> list[RenderedLink]:
    if token.type == "link_open":
        source = after[0].content if token.markup == "linkify" and after else None  # the linkified text itself
        return [RenderedLink(str(token.attrGet("href") or ""), lines, source)]
    if token.type == "image":
        return [RenderedLink(str(token.attrGet("src") or ""), lines)]
    if token.type == "html_inline":
        return [RenderedLink(url, lines, token.content) for url in html_urls(token.content)]
    return []


def accepted_forms(allowed: list[str]) -> dict[str, str]:
    """Each supplied link as a renderer resolves it -> the supplied text."""
    normalise = parser().normalizeLink
    return {**{url: url for url in allowed}, **{normalise(url): url for url in allowed}}


@dataclass(frozen=True)
class Checked:
    """An answer after the check: its Markdown, the supplied links it links (verbatim, first occurrence
    first) and the URLs that were cut."""

    markdown: str
    links: list[str]
    cut: list[str]


WITHHELD = "The answer was withheld: it could not be shown without links outside the supplied records."


def enforce(markdown: str, allowed: list[str]) -> Checked:
    """``markdown`` with every rendered URL outside ``allowed`` cut, re-parsed after each cut."""
    accepted = accepted_forms(allowed)
    cut: list[str] = []
    for attempt in range(_MAX_ROUNDS + 1):
        found = rendered_links(markdown)
        leaks = [link for link in found if link.url not in accepted]
        if not leaks:
            return Checked(markdown, _unique(accepted[link.url] for link in found), _unique(cut))
        cut += [link.url for link in leaks]
        markdown = _cut(markdown, leaks, attempt)
    return Checked(WITHHELD, [], _unique(cut))  # not reached by any input we know of; the last resort


def _cut(markdown: str, leaks: list[RenderedLink], attempt: int) -> str:
    """One round of cutting, harsher each time: the linkified text or tag itself made inert (first round,
    when the parser gave its source), the blocks' lines made inert, the blocks' lines dropped, and in the
    last round every line made inert."""
    lines = markdown.split("\n")
    if attempt == _MAX_ROUNDS - 1:
        return "\n".join(_inert(line) for line in lines)
    blocks: dict[tuple[int, int], list[RenderedLink]] = {}
    for leak in leaks:
        blocks.setdefault(leak.lines, []).append(leak)
    for (start, end), here in sorted(blocks.items(), reverse=True):  # bottom up: earlier lines stay put
        if attempt == 0 and all(leak.source for leak in here):
            block = "\n".join(lines[start:end])
            for source in {leak.source for leak in here}:
                block = block.replace(source, inline(source))  # type: ignore[arg-type]
            lines[start:end] = block.split("\n")
        elif attempt <= 1:
            lines[start:end] = [_inert(line) for line in lines[start:end]]
        else:
            lines[start:end] = [""] * (end - start)  # dropped; blank lines keep the other blocks apart
    return "\n".join(lines)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _inert(line: str) -> str:
    """A line as text that links nothing, keeping its list or quote markers."""
    prefix = _CONTAINER.match(line)[0]  # type: ignore[index]
    return prefix + inline(line[len(prefix) :])
