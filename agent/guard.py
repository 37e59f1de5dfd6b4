"""The guard: whatever a draft says, the answer keeps only the supplied links and traceable numbers.

It never trusts the draft (an LLM's or the offline composer's) and takes no configuration from the
question, so nothing written inside a record or the question can change these rules. It repairs what
it safely can (drops unsupplied links, adds missing records and links) and reports the rest.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import permutations
from typing import Any

from agent.markdown_text import escape_raw_html, inline, one_line, unescape
from agent.rendered_links import enforce
from agent.schema import LINK_LABELS, Draft, Grounding, Question, Record, ToolCall

SECTIONS = ("task", "workflow", "references")

_GAP = "\x00"  # marks where a link was cut out, so tidying touches only those spots

# --------------------------------------------------------------------------------------------
# Finding links: one left-to-right pattern, so link text and targets are told apart in context

_URL_CHAR = r"[^\s<>\"'`\[\]{}|\\^·→←…—–\x00]"
_LABEL = r"[^\W_][\w-]*"
_TLD = r"[^\W\d_]{2,24}"
_BRACKETED = r"(?:[^\[\]\n]|\[[^\[\]\n]*\])*"  # link text, one level of nested brackets
_HOST = rf"(?:(?:{_LABEL}\.)+{_TLD}|\d{{1,3}}(?:\.\d{{1,3}}){{3}})(?::\d{{1,5}})?"  # a domain or IPv4, a port
_TITLE = r"(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\))"

_DEF = rf"^[ \t]{{0,3}}\[(?P<def_id>[^\]\n]+)\]:[ \t]*<?(?P<def_url>[^\s<>]+)>?(?:[ \t]+{_TITLE})?[ \t]*(?:\n|$)"
_DEFINITION = re.compile(_DEF, re.MULTILINE)  # reference-style definitions: `[id]: url "title"`
_LINK = re.compile(
    rf"""
    (?P<DEF>{_DEF})
    | (?P<INLINE>!?\[(?P<inline_text>{_BRACKETED})\]
        \(\s*(?:<(?P<target1>[^<>\n]*)>|(?P<target2>(?:[^\s()]|\([^\s()]*\))*))(?:\s+{_TITLE})?\s*\))
    | (?P<REF>\[(?P<ref_text>{_BRACKETED})\]\[(?P<ref_id>[^\[\]\n]*)\])
    | (?P<SHORT>\[(?P<short_text>{_BRACKETED})\])
    | (?P<AUTO><(?P<auto_url>(?:[a-zA-Z][\w+.-]+:|www\.)[^\s<>]*)>)
    | (?P<SCHEME>(?<![\w+.-])[a-zA-Z][\w+.-]+:/+{_URL_CHAR}+)
    | (?P<WWW>(?<![\w@./-])www\d{{0,3}}\.{_URL_CHAR}+)
    | (?P<DOMAIN>(?<![\w@./-])(?://)?{_HOST}/{_URL_CHAR}*)
    """,
    re.MULTILINE | re.VERBOSE,
)

_FILE_EXTENSIONS = "png|jpe?g|webp|bmp|gif|tiff?|pth|pt|ckpt|safetensors|onnx|json|jsonl|ya?ml|md|txt|npz|npy|py|csv"
_URL_TARGET = re.compile(rf"[a-zA-Z][\w+.-]+:|//|www\d{{0,3}}\.|(?:{_LABEL}\.)+{_TLD}(?:[/?#:]|$)")
_LOCAL_FILE = re.compile(rf"[^/?#:]*\.(?:{_FILE_EXTENSIONS})$", re.IGNORECASE)


def _is_url(target: str) -> bool:
    """A link target that leaves the answer (scheme, //, www., a domain), not a local path or #anchor."""
    target = target.strip()
    if not _URL_TARGET.match(target):
        return False
    return bool(re.match(r"[a-zA-Z][\w+.-]+:|//|www", target)) or not _LOCAL_FILE.fullmatch(target)


def _trim(raw: str) -> tuple[str, str]:
    """Split a bare URL from trailing sentence punctuation and unbalanced closing parentheses."""
    url = raw
    while url:
        unbalanced = url[-1] == ")" and url.count(")") > url.count("(")
        if url[-1] not in ".,;:!?*_~'\"" and not unbalanced:
            break
        url = url[:-1]
    return url, raw[len(url) :]


def _ref_id(label: str) -> str:
    return " ".join(label.lower().split())


class _Links:
    """One rewrite of a text: each URL found is kept (when allowed) or cut, remembering both."""

    def __init__(self, allowed: frozenset[str] | None) -> None:
        self.allowed = allowed  # None keeps every link (used to list them)
        self.found: list[str] = []
        self.removed: list[str] = []
        self.definitions: dict[str, str] = {}

    def run(self, text: str) -> str:
        text = text.replace(_GAP, "")
        self.definitions = {}
        for match in _DEFINITION.finditer(text):
            self.definitions.setdefault(_ref_id(match["def_id"]), match["def_url"])
        out = self._rewrite(text, strip=False)
        return _tidy(out) if _GAP in out else out

    def _is_allowed(self, url: str) -> bool:
        return self.allowed is None or url in self.allowed

    def _keep(self, url: str, strip: bool) -> bool:
        """Record a URL; keep it only when allowed and not inside the text of a cut link."""
        self.found.append(url)
        if not self._is_allowed(url):
            self.removed.append(url)
            return False
        return not strip

    def _rewrite(self, text: str, strip: bool) -> str:
        return _LINK.sub(lambda match: self._replace(match, strip), text)

    def _text_only(self, text: str) -> str:
        """What is left of a cut link: its text without any URL (so a URL-as-text cannot pose as the link)."""
        text = self._rewrite(text, strip=True)
        return text if text.replace(_GAP, "").strip() else _GAP

    def _replace(self, match: re.Match[str], strip: bool) -> str:
        kind, whole = match.lastgroup, match.group(0)

        def with_text(group: str, new: str) -> str:
            start, end = (i - match.start() for i in match.span(group))
            return whole[:start] + new + whole[end:]

        if kind == "DEF":
            url = match["def_url"]
            return whole if not _is_url(url) or self._keep(url, strip) else ""
        if kind == "INLINE":
            text_group = "inline_text"
            target = match["target1"] if match["target1"] is not None else match["target2"] or ""
            cut = _is_url(target) and (strip or not self._is_allowed(target))
            text = self._text_only(match[text_group]) if cut else self._rewrite(match[text_group], strip)
            if _is_url(target):
                self._keep(target, strip)  # recorded after its text, in reading order
            if cut:
                return text
            if _is_url(target) and not text.replace(_GAP, "").strip():
                return target  # the text was only cut links: the allowed target itself remains
            return with_text(text_group, text)
        if kind in ("REF", "SHORT"):
            text_group = "ref_text" if kind == "REF" else "short_text"
            label = match["ref_id"] if kind == "REF" and match["ref_id"] else match[text_group]
            url = self.definitions.get(_ref_id(label))
            if url is not None and _is_url(url) and (strip or not self._is_allowed(url)):
                return self._text_only(match[text_group])
            return with_text(text_group, self._rewrite(match[text_group], strip))
        if kind == "AUTO":
            return whole if self._keep(match["auto_url"], strip) else _GAP
        url, tail = _trim(whole)  # SCHEME, WWW, DOMAIN: bare URLs
        return whole if self._keep(url, strip) else _GAP + tail


def _tidy(text: str) -> str:
    """Close the gaps left by cut links: empty brackets, separators, doubled spaces, emptied list items."""
    wrapped = re.compile(
        r"\(\s*\x00[\s\x00]*\)|\[\s*\x00[\s\x00]*\]|<\s*\x00\s*>|`\x00`|\"\x00\"|\*\*\x00\*\*|\*\x00\*"
    )
    for _ in range(4):  # brackets around brackets around a cut link; deeper nesting is left as it is
        text, count = wrapped.subn(_GAP, text)
        if not count:
            break
    text = re.sub(r"[ \t]*·[ \t]*\x00", " " + _GAP, text)
    text = re.sub(r"\x00[ \t]*·[ \t]*", _GAP + " ", text)
    lines = []
    for line in text.split("\n"):
        if _GAP in line:
            line = re.sub(r"([ \t]*)\x00+([ \t]*)", _close_gap, line)
            line = re.sub(r"(\S)[ \t]+([.,;:!?])", r"\1\2", line).rstrip()
            line = re.sub(r":([.,;])$", r"\1", line)
            if not re.sub(r"^\s*(?:[-*+]|\d+[.)])", "", line).strip(" \t:;,.·*_-"):
                continue  # nothing but a bullet or punctuation is left
        lines.append(line)
    return "\n".join(lines)


def _close_gap(gap: re.Match[str]) -> str:
    """One space where a cut link sat between words, none beside punctuation; indentation stays."""
    if gap.start() == 0:
        return gap[1]
    return " " if gap[1] and gap[2] else ""


def strip_unsupplied_links(text: str, allowed: list[str]) -> str:
    """``text`` without any link outside ``allowed``, as a renderer sees it: the guard's link rule
    for free text (chat replies)."""
    return enforce(_Links(frozenset(allowed)).run(escape_raw_html(text)), allowed).markdown


def links_in(text: str) -> list[str]:
    """Every URL in a text, verbatim, first occurrence first (the same detection the guard uses)."""
    scan = _Links(allowed=None)
    scan.run(text)
    return list(dict.fromkeys(scan.found))


# --------------------------------------------------------------------------------------------
# Parts and coverage

_PART_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]*(?:part[ \t]+)?\d{1,2}(?:[.):]|[ \t]).*(?:\n|$)", re.M | re.I)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")


def _names(record: Record, kind: str) -> list[str]:
    """How a record may be named: its full name; a paper also by its short title before a colon."""
    names = [record.name]
    short = record.name.split(":", 1)[0].strip()
    if kind == "paper" and short != record.name and len(short) >= 4:
        names.append(short)
    return [_plain(name) for name in names]


def _plain(text: str) -> str:
    """What a reader sees of a line, lower-cased: escapes, URLs and emphasis marks gone (a name inside
    a URL is no name), whitespace single."""
    text = _Links(allowed=frozenset()).run(unescape(text)).replace(_GAP, " ")
    return " ".join(re.sub(r"[*`]", "", text).lower().split())


_WORD = re.compile(r"[\w-]+")


class _NameIndex:
    """Where whole names occur in a text, line by line, found through their rarest word: a name
    "stands on its own" ("LIIF" is not named by "SISR-Any-LIIF-RDN"). Lookups cost the rarest
    word's occurrences, not the text's length, so covering many records stays linear."""

    def __init__(self, lines: list[str]) -> None:
        self.raw = lines
        self.lines = [_plain(line) for line in lines]
        self.where: dict[str, list[tuple[int, int]]] = {}
        for number, line in enumerate(self.lines):
            for word in _WORD.finditer(line):
                self.where.setdefault(word[0], []).append((number, word.start()))

    def line_naming(self, names: list[str], list_items_only: bool = False) -> int | None:
        """The first line that names any of ``names`` on its own (only list items, if asked)."""
        found = [n for n in (self._first(name, list_items_only) for name in names) if n is not None]
        return min(found, default=None)

    def _first(self, name: str, list_items_only: bool) -> int | None:
        words = [(w[0], w.start()) for w in _WORD.finditer(name)]
        if not words:
            return None
        word, offset = min(words, key=lambda w: len(self.where.get(w[0], ())))
        for number, at in self.where.get(word, ()):
            line, start = self.lines[number], at - offset
            if start < 0 or line[start : start + len(name)] != name:
                continue
            before, after = line[start - 1 : start], line[start + len(name) : start + len(name) + 1]
            if _WORD.fullmatch(before or " ") or _WORD.fullmatch(after or " "):
                continue
            if not list_items_only or _LIST_ITEM.match(self.raw[number]):
                return number
        return None


def _entry(record: Record, links: list[str]) -> str:
    """A references list item naming a record (its name escaped) with links as autolinks."""
    return f"- **{inline(record.name)}**" + (": " + " · ".join(f"<{url}>" for url in links) if links else "")


def _cover(references: str, question: Question) -> tuple[str, list[str]]:
    """Name every supplied record in the references with all its links, adding what is missing."""
    issues = []
    lines = references.split("\n")
    index = _NameIndex(lines)
    present = set(links_in(references))
    added: list[str] = []
    records = [("model", r) for r in question.models] + [("paper", r) for r in question.papers]
    for kind, record in records:
        missing = [url for url in record.links() if url not in present]
        present.update(missing)
        names = _names(record, kind)
        if index.line_naming(names) is None:
            added.append(_entry(record, record.links()))
            issues.append(f"added missing {kind}: {one_line(record.name)}")
        elif missing:
            at = index.line_naming(names, list_items_only=True)
            if at is None:
                added.append(_entry(record, missing))
            else:
                lines[at] = lines[at].rstrip() + " · " + " · ".join(f"<{url}>" for url in missing)
            issues.append(f"added missing links for {one_line(record.name)}")
    body = "\n".join(lines).rstrip()
    return "\n".join([body, *added] if body.strip() else added), issues


# --------------------------------------------------------------------------------------------
# Numbers

_NUMBER = re.compile(
    r"(?:(?<=\b[xX])|(?<=\d[xX])|(?<![\w.]))"  # also the 4 of x4 and the 96 of 128x96
    r"(?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?P<frac>\.\d+)?(?!\d)"
    r"(?P<suffix>%|[ \t]?ms\b|[kKMBG](?![A-Za-z])|[x×](?![A-Za-z]))?"
)
_SCALE = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9}
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_PATH_LIKE = re.compile(r"[/\\]|\.[A-Za-z]\w{0,9}\b")
_NOT_A_QUANTITY = re.compile(r"(?:st|nd|rd|th)\b|[A-Za-z_]+\d")  # an ordinal, or part of an identifier
_FILE = re.compile(rf"(?<![\w./\\~-])[\w./\\~-]*\.(?:{_FILE_EXTENSIONS})\b", re.IGNORECASE)  # a file path


def _numbers(text: str) -> Iterator[tuple[re.Match[str], float, int]]:
    """Each number in a text with its value and decimal places."""
    for match in _NUMBER.finditer(text):
        frac = match["frac"] or ""
        yield match, float(match["int"].replace(",", "") + frac), max(len(frac) - 1, 0)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _pool(question: Question, sources: Iterable[str], tool_calls: Iterable[ToolCall]) -> list[float]:
    """Every value a draft's number may come from: evidence texts, tool arguments and results, and
    each result's pairwise differences (also of rounded values, as a writer would subtract) and ratios."""
    texts = [*sources, question.question]
    for record in [*question.models, *question.papers]:
        texts += [record.name, record.summary or "", *record.links()]
    for call in tool_calls:
        texts += [leaf for leaf in _leaves([call.arguments, call.result, call.error]) if isinstance(leaf, str)]
    pool: set[float] = set()
    for text in texts:
        for match, value, _ in _numbers(text):
            pool.add(value)
            pool.add(value * _SCALE.get(match["suffix"] or "", 1.0))
    for call in tool_calls:
        pool.update(float(leaf) for leaf in _leaves(call.arguments) if _is_number(leaf))
        measured = [float(leaf) for leaf in _leaves(call.result) if _is_number(leaf)]
        pool.update(measured)
        for a, b in permutations(measured, 2):
            pool.update(abs(round(a, k) - round(b, k)) for k in (1, 2, 3, 4))
            pool.add(abs(a - b))
            if b:
                pool.add(a / b)
    return sorted(pool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _traceable(value: float, decimals: int, suffix: str, pool: list[float]) -> bool:
    """True when some pool value, rounded to the draft's own decimal places, gives this number."""
    tolerance = 0.5 * 10**-decimals * (1 + 1e-9)
    readings = [(value, tolerance)]
    if suffix in _SCALE:
        readings.append((value * _SCALE[suffix], tolerance * _SCALE[suffix]))
    elif suffix.strip() == "ms":
        readings.append((value / 1000, tolerance / 1000))
    elif suffix == "%":  # a fraction, or a ratio read as "x% more" / "x% less"
        readings += [(f, tolerance / 100) for f in (value / 100, 1 + value / 100, 1 - value / 100)]
    for v, t in readings:
        at = bisect_left(pool, v - t)
        if at < len(pool) and pool[at] <= v + t:
            return True
    return False


def _unverified(text: str, pool: list[float]) -> list[str]:
    """Numbers of the draft (outside URLs and code paths) that no evidence or tool result gives."""
    prose = _Links(allowed=frozenset()).run(text)
    prose = _FILE.sub(" ", _CODE_SPAN.sub(lambda span: " " if _PATH_LIKE.search(span[0]) else span[0], prose))
    found = []
    for match, value, decimals in _numbers(prose):
        suffix = match["suffix"] or ""
        if _NOT_A_QUANTITY.match(prose, match.end()):
            continue  # an ordinal or part of an identifier (hash, model code)
        bare_integer = not match["frac"] and "," not in match["int"] and suffix.strip() not in ("%", *_SCALE)
        if bare_integer and (value <= 10 or (len(match["int"]) == 4 and 1900 <= value <= 2099)):
            continue  # list numbering, small counts, years
        if not _traceable(value, decimals, suffix, pool):
            found.append(match.group(0).strip())
    return found


# --------------------------------------------------------------------------------------------


def guard(draft: Draft, question: Question, sources: list[str], tool_calls: list[ToolCall]) -> tuple[Draft, Grounding]:
    """Repair a draft against the supplied records and evidence; report what was cut, added or unproven."""
    allowed = question.supplied_links()
    links = _Links(frozenset(allowed))
    issues: list[str] = []
    sections = {}
    for name in SECTIONS:
        raw = getattr(draft, name)
        text = escape_raw_html(raw)
        if text != raw:
            issues.append(f"made raw HTML in {name} plain text: answers carry no HTML")
        text = links.run(text)
        for heading in _PART_HEADING.findall(text):
            issues.append(f"removed stray part heading in {name}: {one_line(heading)}")
        sections[name] = _PART_HEADING.sub("", text)
    removed = list(dict.fromkeys(links.removed))
    issues = [f"removed link not in the supplied records: {url}" for url in removed] + issues
    issues += [
        f"dropped the {LINK_LABELS[field]} field of {one_line(record.name)}: not one http(s) URL"
        for record in [*question.models, *question.papers]
        for field in record.dropped_links
    ]
    missing = [f"missing part: {name}" for name in SECTIONS if not sections[name].strip()]
    sections["references"], covered = _cover(sections["references"], question)
    pool = _pool(question, sources, tool_calls)
    numbers = list(dict.fromkeys(n for name in SECTIONS for n in _unverified(sections[name], pool)))
    issues += missing + covered + [f"unverified number: {n}" for n in numbers]
    grounding = Grounding(ok=not missing and not numbers, allowed_links=allowed, removed_links=removed, issues=issues)
    return Draft(**sections), grounding
