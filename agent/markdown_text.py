"""Untrusted text (the question, record names, titles and summaries) as inert Markdown.

Anything a user or a catalog supplies is data. Where an answer echoes it, it goes through
``inline``: one line, every Markdown and HTML construct escaped, and the characters that a
linkifier reads as a web address or an e-mail address (``evil.com``, ``www.``, ``a@b``, ``x:y``)
broken with CommonMark backslash escapes. A renderer shows the same characters; none of them
becomes a link, a heading, a list, an image or a tag. ``agent.rendered_links`` checks that claim
on every answer with a real Markdown parser.
"""

from __future__ import annotations

import re
import unicodedata

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_WHITESPACE = re.compile(r"\s+")

# Always escaped: what opens links, images, emphasis, code, HTML, entities, tables, strikethrough.
_ALWAYS = re.compile(r"([\\`*_\[\]<>&|~@])")
# Escaped where a linkifier would read an address: a dot inside a word (evil.com), after www, a colon
# before anything but a space (https:, mailto:, host:8080), a slash after a colon or another slash.
_ADDRESS = re.compile(
    r"(?<=[^\W_])\.(?=[^\W\d_])|(?i:(?<=www)|(?<=www\d)|(?<=www\d\d)|(?<=www\d\d\d))\.|:(?=\S)|(?<=[:/])/"
)
# Escaped at the start of the line only: what opens a heading, a list, a quote, a rule, a setext line.
_LINE_START = re.compile(r"^(\s*)([#>+=\-]|\d+(?=[.)]))")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def without_surrogates(text: str) -> str:
    """Lone surrogates (from JSON ``"\\ud800"`` or undecodable file names) as U+FFFD: UTF-8 cannot carry them."""
    return _SURROGATE.sub("\ufffd", text)


def clean_text(text: str) -> str:
    """Text any writer or renderer can take: lone surrogates become U+FFFD, control characters
    other than tab and newline go, CR/CRLF become LF."""
    text = without_surrogates(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def one_line(text: str) -> str:
    """Whitespace runs (newlines, Unicode line separators, tabs) as single spaces; invisible format
    characters (zero-width, bidi overrides) removed, so what is shown is what is there."""
    text = "".join(ch for ch in clean_text(text) if unicodedata.category(ch) != "Cf")
    return _WHITESPACE.sub(" ", text).strip()


def inline(text: str | None) -> str:
    """``text`` as one line of inert Markdown: shown as written, never a link, tag or block."""
    if not text:
        return ""
    text = _ALWAYS.sub(r"\\\1", one_line(str(text)))
    text = _ADDRESS.sub(lambda m: "\\" + m[0], text)
    return _LINE_START.sub(_escape_line_start, text)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, marker = match[1], match[2]
    return f"{indent}{marker}\\" if marker.isdigit() else f"{indent}\\{marker}"  # "1\." ends a list item


def code(text: str | None) -> str:
    """``text`` as one inline code span: inert in every renderer, whatever backticks it holds."""
    text = one_line(str(text or ""))
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def unescape(text: str) -> str:
    """Backslash escapes removed: the characters a reader sees (for matching names in a draft)."""
    return _ESCAPED.sub(r"\1", text)


_RAW_TAG = re.compile(r"(?<!\\)((?:\\\\)*)<(?=[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$)|/|!|\?)")  # not after a \


def escape_raw_html(text: str) -> str:
    """Every raw HTML tag, closing tag, comment or declaration in a draft made visible text: answers
    never carry HTML (autolinks such as ``<https://…>`` are not tags and stay)."""
    return _RAW_TAG.sub(r"\1&lt;", text)
