"""Documents simple enough to read without an HTML parser, such as a tiny `<iframe srcdoc>` page.

Why: beautifulsoup4 and html.parser cost a fixed ~0.2 ms per document before the first byte is
read, and a page of thousands of `<iframe srcdoc="<script>...</script>">` spent most of its
analysis there (one nested document per frame), over the per-file time budget.

A document is plain when it is made only of text without `<`, doctypes, start and end tags
without attributes of a few structural elements that run and load nothing, and `<script>`
elements whose start tag has simple attributes (no character reference, `<` or `>`, no unquoted
value ending in `/`, which html.parser reads as self-closing in `<script src=a/>`), no duplicate, none of the
attributes beautifulsoup4 splits into lists) and whose body holds no `</`
before its `</script>`. In such a document html.parser, the engine's strainer and a browser see
the same elements: the scripts in order, each with its attributes as written. Anything else
(a comment, another element, a character reference in an attribute) gives None, and the
document goes to the parser as before.
"""

from __future__ import annotations

import re

from webscan.html.positions import StartTag, read_start_tag

_STRUCTURAL = frozenset({
    "html", "head", "body", "div", "span", "p", "br", "hr", "b", "i", "em", "strong", "u", "small",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "main", "header", "footer", "section",
    "article", "nav", "aside", "center",
})
"""Elements that run and load nothing, have no special parsing rules in html.parser or in a
browser (unlike style, textarea, title, template...) and, without attributes, are never built
by the engine's strainer."""
_DOCTYPE = re.compile(r"<!doctype(?:\s+html)?\s*>", re.IGNORECASE)
_SIMPLE_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)>")
_SCRIPT_TAG = re.compile(  # spaces are a browser's (html.parser's \s also takes \xa0 and others)
    r"""<script((?:[ \t\n\f\r]+[a-zA-Z_:][-a-zA-Z0-9_:.]*"""
    r"""(?:[ \t\n\f\r]*=[ \t\n\f\r]*(?:"[^"&<>\0]*"|'[^'&<>\0]*'|[^\s"'=<>`&/\0]+(?:/[^\s"'=<>`&/\0]+)*))?)*)[ \t\n\f\r]*>""",
    re.IGNORECASE,
)
_SCRIPT_ATTR = re.compile(r"""[ \t\n\f\r]+([^\s=]+)(?:[ \t\n\f\r]*=[ \t\n\f\r]*(?:"([^"]*)"|'([^']*)'|(\S+)))?""")
_LIST_ATTRS = frozenset({"class", "accesskey", "dropzone"})  # beautifulsoup4 makes these lists
_END_SCRIPT = "</script>"
MAX_TAG = 4096
"""A longer script start tag is not plain."""


def plain_scripts(text: str) -> list[tuple[StartTag, dict[str, str]]] | None:
    """The script elements of a plain document (start tag, attributes by lower-case name), in
    order; None when the document is not plain. One pass, each character looked at once or twice."""
    scripts: list[tuple[StartTag, dict[str, str]]] = []
    pos = text.find("<")
    while pos >= 0:
        tag = _SCRIPT_TAG.match(text, pos, pos + MAX_TAG)  # bounded backtracking on junk
        if tag is None:
            other = _SIMPLE_TAG.match(text, pos) or _DOCTYPE.match(text, pos)
            if other is None or (other.re is _SIMPLE_TAG and other.group(1).lower() not in _STRUCTURAL):
                return None
            pos = text.find("<", other.end())
            continue
        attrs: dict[str, str] = {}
        for a in _SCRIPT_ATTR.finditer(tag.group(1)):
            name = a.group(1).lower()
            if name in attrs or name in _LIST_ATTRS:
                return None
            attrs[name] = next((v for v in a.group(2, 3, 4) if v is not None), "")
        st = read_start_tag(text, pos)
        if st is None or st.end != tag.end():
            return None
        close = text.find("</", st.end)
        if close < 0 or text[close:close + len(_END_SCRIPT)].lower() != _END_SCRIPT:
            return None
        scripts.append((st, attrs))
        pos = text.find("<", close + len(_END_SCRIPT))
    return scripts
