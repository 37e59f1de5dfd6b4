"""The judge (agent/rendered_links.py): what it finds a renderer would link, and how it cuts."""

from __future__ import annotations

import pytest

from agent.markdown_text import escape_raw_html, inline
from agent.rendered_links import enforce, rendered_links
from tests.link_oracle import followed_urls, unsupplied

PAPER = "https://arxiv.org/abs/2012.09161"


@pytest.mark.parametrize(
    ("markdown", "urls"),
    [
        ("[a](https://e.x/1) ![b](https://e.x/2.png)", ["https://e.x/1", "https://e.x/2.png"]),
        ("<https://e.x/3> e.x/4 www.e.com a@b.io", ["https://e.x/3", "http://www.e.com", "mailto:a@b.io"]),
        ("[a][r]\n\n[r]: https://e.x/ref", ["https://e.x/ref"]),
        ("[d](h&#116;tps://e.x/ent)", ["https://e.x/ent"]),
        ('<img srcset="https://e.x/1x.png 1x, https://e.x/2x.png 2x">', ["https://e.x/1x.png", "https://e.x/2x.png"]),
        ('x <a href="//e.x" ping="https://e.x/p https://e.x/q">y</a>', ["//e.x", "https://e.x/p", "https://e.x/q"]),
        ('<div style="background:url(https://e.x/bg)">x</div>', ["https://e.x/bg"]),
        ('<meta http-equiv="refresh" content="0; url=https://e.x/r">', ["https://e.x/r"]),
        ("<form action=//e.x/f><button formaction=https://e.x/b>go</button></form>", ["//e.x/f", "https://e.x/b"]),
        ("x <img src=x onerror=alert(1)>", ["x", "onerror=alert(1)"]),
        ("[j](javascript:alert(1))", ["javascript:alert(1)"]),
        ("`[a](https://e.x/code)` and\n\n    [b](https://e.x/indented)", []),
    ],
)
def test_it_finds_what_a_renderer_follows(markdown, urls):
    assert [link.url for link in rendered_links(markdown)] == urls


def test_a_linkified_spot_is_made_inert_and_the_rest_of_the_line_kept():
    checked = enforce(f"See evil.com for more; the paper is <{PAPER}>.", [PAPER])
    assert checked.markdown == f"See evil\\.com for more; the paper is <{PAPER}>."
    assert checked.cut == ["http://evil.com"] and checked.links == [PAPER]


def test_a_link_the_rewriter_missed_makes_its_block_inert():
    """A reference defined in one part and used in another is a link only when the parts are joined."""
    markdown = (
        f"## 1. Task\n\nSee [the code][c].\n\n## 3. Papers and tools\n\n- <{PAPER}>\n\n[c]: https://evil.example/c\n"
    )
    checked = enforce(markdown, [PAPER])
    assert checked.cut == ["https://evil.example/c"]
    assert "See \\[the code\\]\\[c\\]." in checked.markdown
    assert checked.links == [PAPER] and unsupplied(checked.markdown, [PAPER]) == []


def test_raw_html_blocks_are_cut_whatever_they_hold():
    markdown = '<div>\n<img src="https://evil.example/beacon.png">\n</div>\n\nText.'
    checked = enforce(markdown, [])
    assert followed_urls(checked.markdown) == [] and "Text." in checked.markdown


def test_supplied_links_count_in_their_normalised_form():
    odd = "https://example.org/a%20b/c(d)?q=1&r=[2]"  # brackets get percent-encoded by the renderer
    checked = enforce(f"<{odd}> and <{PAPER}>", [odd, PAPER])
    assert checked.cut == [] and checked.links == [odd, PAPER]


@pytest.mark.parametrize(
    "text",
    [
        "evil.com", "www.evil.com", "a@b.io", "https://evil.example/x", "[x](https://evil.example)", "<b>x</b>",
        "<https://evil.example>", "# heading", "- item", "1. item", "> quote", "| a | b |", "`code`", "&#104;ttps://e.x",
        "x: y", "node.js", "WWW.EVIL.COM", "evil.co.uk/path?x=1#f", "mailto:a@b.io", "\\[escaped\\](https://e.x)",
    ],
)  # fmt: skip
def test_inline_text_never_links_and_reads_the_same(text):
    from markdown_it import MarkdownIt

    escaped = inline(text)
    assert followed_urls(escaped) == [] and followed_urls(f"- **{escaped}**") == []
    shown = MarkdownIt("commonmark").renderInline(escaped)
    assert shown.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"') == text


def test_escaped_html_is_left_alone_and_real_tags_become_text():
    assert escape_raw_html("\\<a href=x> <b>y</b> <https://e.x>") == "\\<a href=x> &lt;b>y&lt;/b> <https://e.x>"
