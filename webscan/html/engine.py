"""HTML analysis: find the code a page runs and the resources it loads, hand code to the JS engine.

A page is evidence only through what the browser executes or loads: inline and external
scripts, frames, objects, preloads, refresh redirects, event-handler attributes and
`javascript:` URLs. Text a visitor reads (an article naming CoinHive, a miner's shutdown notice)
and markup the browser never runs (HTML comments, `<noscript>`, JSON data blocks) is not.

Parsing uses beautifulsoup4 with html.parser and a strainer that builds only the elements that
matter, because a full tree costs several times more on markup-heavy pages; a plain document
(text and scripts, see plain.py) is read without the parser at all. Positions come from the raw
text (see positions.py) so a finding inside an inline script points at the page's line.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Protocol
from urllib.parse import unquote, unquote_to_bytes, urljoin

from bs4 import BeautifulSoup, SoupStrainer
from bs4.exceptions import ParserRejectedMarkup

from webscan.analysis import Analysis
from webscan.budget import BudgetExceeded
from webscan.budget import check as check_budget
from webscan.evidence import finding
from webscan.html.decode import binary_reason, decode_html
from webscan.html.plain import plain_scripts
from webscan.html.positions import LineIndex, StartTag, read_start_tag, script_body_span
from webscan.html.widgets import ElementRules, element_rules
from webscan.model import EvidenceKind, Location
from webscan.net.domains import DomainHit, DomainMatcher
from webscan.net.registrable import is_third_party, registrable_domain

MAX_PARSE_CHARS = 8_000_000
"""Markup beyond this is not given to html.parser (0.7-1.5 MB/s on dense markup, so this bounds
the parse to seconds); scripts in the rest are still found by a plain scan, since injected
miners usually sit at the end of a page."""
MAX_SNIPPETS = 2000
"""Event handlers and javascript: URLs analysed per page; pages with more are templated junk."""
MAX_NESTING = 2
"""How deep `<iframe srcdoc>` / data: HTML documents are followed."""
MAX_DATA_URL = 8_000_000
BATCH_PART_BYTES = 4096
"""Inline classic scripts up to this size are cleared in batches (see _Page._flush)."""
BATCH_BYTES = 64 * 1024
"""A batch of small scripts is analysed once it holds this much code."""
BATCH_SEPARATOR = b"\n;\n"

# Script types the browser runs (HTML spec's JavaScript MIME types, modules, in-browser JSX).
_JS_TYPES = {
    "", "module", "application/ecmascript", "application/javascript", "application/x-ecmascript",
    "application/x-javascript", "text/ecmascript", "text/javascript", "text/javascript1.0",
    "text/javascript1.1", "text/javascript1.2", "text/javascript1.3", "text/javascript1.4",
    "text/javascript1.5", "text/jscript", "text/livescript", "text/x-ecmascript",
    "text/x-javascript", "text/babel", "text/jsx",
}
# Containers whose content the browser does not run as markup (with scripting enabled).
_INERT_PARENTS = ("noscript", "textarea", "title", "xmp", "plaintext", "noembed", "noframes")
_LOADERS = {  # tag -> (url attribute, what it loads, whether it is a load of code/document)
    "script": ("src", "script"),
    "iframe": ("src", "frame"),
    "frame": ("src", "frame"),
    "object": ("data", "object"),
    "embed": ("src", "embed"),
}
_PRELOAD_RELS = {"preload", "modulepreload", "prefetch"}
_PRELOAD_PASSIVE_AS = {"style", "image", "font", "track", "audio", "video"}
_URL_ATTRS = ("href", "src", "action", "formaction", "data", "xlink:href")
_INTERESTING = {"script", "iframe", "frame", "object", "embed", "link", "meta", "base", *_INERT_PARENTS}
_HANDLER = re.compile(r"on[a-z]{2,}")
_REFRESH_URL = re.compile(r"""^\s*\d*(?:\.\d*)?\s*[;,]?\s*(?:url\s*=\s*)?["']?([^"']*)""", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_TAIL_SCRIPT = re.compile(r"<!--|<script(?=[\s/>])", re.IGNORECASE)
# JavaScript types that run as classic scripts (not modules, not transpiled in the browser)
_CLASSIC_TYPES = _JS_TYPES - {"module", "text/babel", "text/jsx"}


class JsAnalyser(Protocol):
    def analyse(self, source: bytes, target: str, *, line_offset: int = 0, column_offset: int = 0,
                context: str | None = None) -> Analysis: ...


class _Strainer(SoupStrainer):
    """Build only elements that can run or load something (and the inert containers around them)."""

    def __init__(self, widgets: ElementRules | None = None) -> None:
        super().__init__()
        self.widgets = widgets

    def allow_tag_creation(self, nsprefix: Any, name: str, attrs: Any) -> bool:  # bs4 >= 4.13
        if name in _INTERESTING:
            return True
        if attrs:
            if self.widgets is not None and "class" in attrs and self.widgets.class_matches(attrs["class"]):
                return True
            for k, v in attrs.items():
                if k.startswith("on") or k == "srcdoc":
                    return True
                if isinstance(v, str) and "javascript:" in v[:64].lower():
                    return True
        return False

    def allow_string_creation(self, string: Any) -> bool:
        return False  # bodies are sliced from the raw text

    def search_tag(self, name: Any, attrs: Any = None) -> Any:  # bs4 < 4.13
        return self.allow_tag_creation(None, getattr(name, "name", name), attrs or {}) or None


def _join(base: str | None, url: str) -> str | None:
    """urljoin that answers None instead of raising on a malformed base or URL."""
    if not base:
        return None
    try:
        return urljoin(base, url)
    except ValueError:
        return None


def _attr(tag: Any, name: str) -> str | None:
    v = tag.attrs.get(name)
    if v is None:
        return None
    return " ".join(v) if isinstance(v, list) else str(v)


def script_is_js(attrs: dict[str, Any]) -> bool:
    """Whether the browser runs this script (or will, once a consent manager re-types it).

    HTML spec: no `type` but a non-empty `language` means "text/" + language; otherwise the type
    without parameters must be a JavaScript MIME type, "module", or empty.
    """
    if "type" in attrs:
        t = attrs.get("type")
        t = " ".join(t) if isinstance(t, list) else str(t or "")
    elif str(attrs.get("language") or "").strip():
        t = "text/" + str(attrs["language"]).strip()
    else:
        return True
    t = t.split(";")[0].strip().lower()
    if t in _JS_TYPES:
        return True
    # Cookie-consent managers park scripts as text/plain and re-type them after consent.
    return t == "text/plain" and any("consent" in k or "cookie" in k or k == "data-category" for k in attrs)


def _classic(attrs: dict[str, Any]) -> bool:
    """Whether a script the browser runs is a classic script (a type attribute, if any, names a
    classic JavaScript MIME type, and no `language` attribute re-types it)."""
    if "type" not in attrs:
        return not str(attrs.get("language") or "").strip()
    t = attrs.get("type")
    t = " ".join(t) if isinstance(t, list) else str(t or "")
    return t.split(";")[0].strip().lower() in _CLASSIC_TYPES


def _decode_data_url(url: str) -> tuple[str, bytes] | None:
    """(media type, payload) of a data: URL, or None when it is not one or cannot be decoded."""
    if not url[:5].lower() == "data:" or "," not in url:
        return None
    head, payload = url[5:].split(",", 1)
    if len(payload) > MAX_DATA_URL:
        return None
    parts = [p.strip().lower() for p in head.split(";")]
    try:
        if "base64" in parts[1:]:
            raw = re.sub(r"\s+", "", unquote(payload))
            data = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=False)
        else:
            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return None
    return parts[0] or "text/plain", data


class HtmlEngine:
    """Analyses one HTML document; built once per process, reused for every page."""

    def __init__(self, sigs: Any, *, js: JsAnalyser, domains: DomainMatcher, plain_reader: bool = True):
        """`plain_reader`: read plain documents (see plain.py) without the parser; off, every
        document is parsed, which gives the same results more slowly (tests compare the two)."""
        self.sigs = sigs
        self.js = js
        self.domains = domains
        self.widgets = element_rules(getattr(sigs, "js", None) or [])
        self.plain_reader = plain_reader

    # --- entry point -----------------------------------------------------------------------

    def analyse(self, source: bytes, target: str, *, page_url: str | None = None) -> Analysis:
        """Findings for one page. Never raises: junk gives `fatal`, an empty file a note."""
        try:
            return self._analyse(source, target, page_url, depth=0)
        except RecursionError:
            return Analysis(fatal="HTML structure too deep to analyse; split the file or report it")
        except Exception as e:  # noqa: BLE001 - one bad page must never stop a scan
            return Analysis(fatal=f"HTML analysis failed ({type(e).__name__}: {e}); "
                                  "please report this file to the webscan developers")

    def _analyse(self, source: bytes, target: str, page_url: str | None, depth: int,
                 leftovers: list[_Part] | None = None) -> Analysis:
        """`leftovers`, for a nested document: where its small scripts still waiting in a batch
        at its end are handed to the enclosing page (see _Page._nested_html), not analysed."""
        if not isinstance(source, (bytes, bytearray)):
            source = str(source).encode("utf-8", "replace")
        if not source.strip():
            return Analysis(notes=["empty file: nothing to analyse"])
        reason = binary_reason(bytes(source))
        if reason:
            return Analysis(fatal=f"not an HTML document: {reason}")
        text, _encoding = decode_html(bytes(source))
        return _Page(self, text, target, page_url, depth, leftovers).run()


Route = tuple[tuple[str, int, int], ...]
"""How a nested document's finding is relocated into each enclosing page, innermost first:
(what holds the document, line, column of its element in the enclosing page)."""
_Part = tuple[bytes, tuple[int, int], str, Route]
"""A small script waiting for a batch: code, line and column, label, route (see Route)."""


def _relocate(findings: list[Any], how: str, where: tuple[int, int]) -> None:
    """Point a nested document's findings at its element in the enclosing page."""
    line, col = where
    for f in findings:
        ctx = f"{how} at line {line}" + (f": {f.location.context}" if f.location.context else "")
        f.location = f.location.model_copy(update={"line": line, "column": col, "context": ctx})


class _Page:
    """The state of one page analysis (script counter, base URL, line index)."""

    def __init__(self, engine: HtmlEngine, text: str, target: str, page_url: str | None, depth: int,
                 leftovers: list[_Part] | None = None):
        self.e = engine
        self.text = text
        self.target = target
        self.page_url = page_url
        self.base = page_url
        self.depth = depth
        self.lines = LineIndex(text)
        self.out = Analysis()
        self.scripts = 0
        self.pending: list[_Part] = []  # small scripts, see _flush
        self.pending_bytes = 0
        self.leftovers = leftovers
        js = engine.js
        # an analyser that can clear many small scripts at once (JsEngine.quiet); others get
        # every script on its own
        self.batching = hasattr(js, "quiet") and hasattr(js, "parses_cleanly")
        self.snippets = 0
        self.skipped_snippets = 0

    # --- walking ---------------------------------------------------------------------------

    def run(self) -> Analysis:
        # the plain reader is one linear pass, so it has no size limit: past MAX_PARSE_CHARS the
        # parser path would read 8 MB of markup through html.parser (an 8 MB page of small
        # scripts: 4.8 s of CPU at 4 MB by the plain reader, 27 s at 8 MB through the parser)
        plain = plain_scripts(self.text) if self.e.plain_reader else None
        if plain is not None:
            for st, attrs in plain:  # what the parser would give, without its cost (see plain.py)
                self._visit(_RawTag("script", attrs), st)
        else:
            self._parse_and_walk()
        return self._finish()

    def _parse_and_walk(self) -> None:
        text = self.text
        parsed = text
        if len(text) > MAX_PARSE_CHARS:
            cut = text.rfind("<", 0, MAX_PARSE_CHARS)
            cut = cut if cut > 0 else MAX_PARSE_CHARS
            parsed = text[:cut]
            self.out.notes.append(
                f"page is {len(text) / 1e6:.1f} M characters: only the first {cut / 1e6:.1f} M were "
                "parsed as HTML; scripts in the rest were found by a plain scan")
        try:
            soup = BeautifulSoup(parsed, "html.parser", parse_only=_Strainer(self.e.widgets))
        except ParserRejectedMarkup:
            # html.parser gives up on a marked section with an unknown keyword (`<![html>`),
            # which would cost the page its analysis; a browser reads `<![` outside SVG/MathML
            # as a bogus comment up to the next `>`, as html.parser reads `<!_` (same length,
            # so positions hold)
            soup = BeautifulSoup(parsed.replace("<![", "<!_"), "html.parser",
                                 parse_only=_Strainer(self.e.widgets))
        inert: dict[int, bool] = {}  # id(tag) -> inside an inert container
        for tag in soup.find_all(True):
            # document order puts a parent before its children, so one look at the parent
            # answers "inside an inert container?" (find_parent per element is O(depth))
            parent = tag.parent
            inside = parent is not None and (inert.get(id(parent), False) or
                                             (parent.name or "").lower() in _INERT_PARENTS)
            inert[id(tag)] = inside
            if inside:
                continue
            self._visit(tag, self._start_tag(tag))
        if parsed is not text:
            self._scan_tail(len(parsed))

    def _visit(self, tag: Any, st: StartTag | None) -> None:
        try:
            self._element(tag, st)  # a nested document in it may run out of budget
            check_budget()  # after: what the first element shows is kept whatever the budget
        except BudgetExceeded:
            self._flush()  # scripts waiting in a batch are analysed as if on their own
            raise

    def _finish(self) -> Analysis:
        if self.leftovers is None or self.skipped_snippets:
            self._flush()
        else:  # a nested document: its last small scripts may join the enclosing page's batch
            self.leftovers.extend(self.pending)
            self.pending, self.pending_bytes = [], 0
        if self.skipped_snippets:
            self.out.notes.append(f"{self.skipped_snippets} event handlers / javascript: URLs beyond "
                                  f"the first {MAX_SNIPPETS} were not analysed")
        return self.out

    def _start_tag(self, tag: Any) -> StartTag | None:
        line, pos = getattr(tag, "sourceline", None), getattr(tag, "sourcepos", None)
        if line is None or pos is None:
            return None
        off = self.lines.offset(line, pos)
        st = read_start_tag(self.text, off)
        return st if st is not None and st.name == tag.name.lower() else None

    def _element(self, tag: Any, st: StartTag | None) -> None:
        name = tag.name.lower()
        if name in _INERT_PARENTS:
            return
        where = self.lines.line_col(st.start) if st else (tag.sourceline or 1, (tag.sourcepos or 0) + 1)
        if name == "base":
            href = _attr(tag, "href")
            if href and self.base == self.page_url:  # the first <base href> wins
                self.base = _join(self.page_url, href.strip()) or href.strip()
            return
        if name == "script":
            self.scripts += 1
            self._script(tag, st, where)
        elif name in _LOADERS:
            attr, what = _LOADERS[name]
            url = _attr(tag, attr)
            if url:
                self._load(url, what, f"<{name} {attr}>", where)
            if name in ("iframe", "frame"):
                self._nested_html(tag, where)
        elif name == "link":
            rels = {r.lower() for r in (_attr(tag, "rel") or "").split()}
            href = _attr(tag, "href")
            if href and rels & _PRELOAD_RELS:
                as_ = (_attr(tag, "as") or "").strip().lower()
                passive = as_ in _PRELOAD_PASSIVE_AS
                self._load(href, f"{'preloaded ' + as_ if as_ else 'preloaded resource'}",
                           f"<link rel={'/'.join(sorted(rels & _PRELOAD_RELS))}>", where, mention=passive)
        elif name == "meta":
            if (_attr(tag, "http-equiv") or "").strip().lower() == "refresh":
                m = _REFRESH_URL.match(_attr(tag, "content") or "")
                if m and m.group(1).strip():
                    self._load(m.group(1).strip(), "refresh redirect", "<meta http-equiv=refresh>", where)
        self._handlers_and_js_urls(tag, st, name)
        if self.e.widgets is not None and "class" in tag.attrs:
            for rule in self.e.widgets.match(name, tag.attrs):
                self._flush()
                self.out.findings.append(finding(
                    rule, EvidenceKind.html, Location(target=self.target, line=where[0], column=where[1],
                                                      context=f"<{name} class=...> kit widget"),
                    excerpt=self.text[st.start:st.end] if st else None))

    # --- scripts ---------------------------------------------------------------------------

    def _script(self, tag: Any, st: StartTag | None, where: tuple[int, int]) -> None:
        n = self.scripts
        is_js = script_is_js(tag.attrs)
        src = _attr(tag, "src")
        if src is not None and src.strip():
            data = _decode_data_url(src.strip())
            if data is not None:
                if is_js:
                    self._run_js(data[1], where, f"data: URL in <script src> #{n} (decoded)")
                return
            self._load(src, "script", f"<script src> #{n}", where, mention=not is_js)
            return
        if st is None:
            body = tag.string or ""
            bline, bcol = where
            body_start = None
        else:
            body_start, body_end = script_body_span(self.text, st.end)
            body = self.text[body_start:body_end]
            bline, bcol = self.lines.line_col(body_start)
        if not body.strip():
            return
        if is_js:
            code = body.encode("utf-8", "surrogatepass")
            if not self._batch(code, tag.attrs, (bline, bcol), f"inline <script> #{n}"):
                self._run_js(code, (bline, bcol), f"inline <script> #{n}")
        else:
            # data blocks (JSON-LD, templates, import maps): URLs there are mentions, not loads
            self._mentions(body, body_start, f"non-JS <script> #{n}")

    def _batch(self, code: bytes, attrs: dict[str, Any], where: tuple[int, int], context: str) -> bool:
        """Queue a small classic inline script for _flush; False when it must go alone.

        Only a script that parses on its own as a complete program joins a batch, so joining
        never changes how any part parses (a part cannot leave a string, comment or block
        open for the next)."""
        if (not self.batching or len(code) > BATCH_PART_BYTES or not _classic(attrs)
                or not self.e.js.parses_cleanly(code)):  # type: ignore[attr-defined]
            return False
        self._queue(code, where, context, ())
        return True

    def _queue(self, code: bytes, where: tuple[int, int], context: str, route: Route) -> None:
        self.pending.append((code, where, context, route))
        self.pending_bytes += len(code) + len(BATCH_SEPARATOR)
        if self.pending_bytes >= BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        """Analyse the queued small scripts: joined into one program, cleared at once when the
        JS engine observes nothing in it at all (JsEngine.quiet says why that vouches for each
        part); otherwise halved until each script with something to show is analysed alone,
        as it would be without batching, so its findings keep its own line, column and label.

        Why: the JS engine's fixed cost per script (setup, parse, passes) dominated pages made
        of thousands of tiny inline scripts, which then outran the per-file time budget.
        Called before anything else is added to the page's findings, so their order holds."""
        parts, self.pending, self.pending_bytes = self.pending, [], 0
        self._clear(parts)

    def _clear(self, parts: list[_Part]) -> None:
        if not parts:
            return
        if len(parts) == 1:
            self._run_js(*parts[0])
            return
        program = BATCH_SEPARATOR.join(code for code, _, _, _ in parts)
        if self.e.js.quiet(program, self.target):  # type: ignore[attr-defined]
            return
        half = len(parts) // 2
        self._clear(parts[:half])
        self._clear(parts[half:])

    def _run_js(self, code: bytes, where: tuple[int, int], context: str, route: Route = ()) -> None:
        """Analyse one script now; `route` relocates the findings of a nested document's script
        that waited in this page's batch, as they would have been had it been analysed there."""
        self._flush()
        line, col = where
        res = self.e.js.analyse(code, self.target, line_offset=line - 1, column_offset=col - 1,
                                context=context)
        if res is None:
            return
        for how, at_line, at_col in route:
            _relocate(res.findings, how, (at_line, at_col))
        self.out.extend(res)
        if res.fatal:
            self.out.notes.append(f"{context} at line {line}: {res.fatal}")

    def _handlers_and_js_urls(self, tag: Any, st: StartTag | None, name: str) -> None:
        for key, value in tag.attrs.items():
            if isinstance(value, list):
                value = " ".join(value)
            if not isinstance(value, str) or not value.strip():
                continue
            k = key.lower()
            code: str | None = None
            skip = 0
            if _HANDLER.fullmatch(k):
                code, what = value, f"{k} handler on <{name}>"
            elif k in _URL_ATTRS and value.lstrip()[:11].lower() == "javascript:":
                lead = len(value) - len(value.lstrip())
                skip = lead + 11
                code, what = unquote(value[skip:]), f"javascript: URL in <{name} {k}>"
            if code is None:
                continue
            if self.snippets >= MAX_SNIPPETS:
                self.skipped_snippets += 1
                continue
            self.snippets += 1
            span = st.values.get(k) if st else None
            if span is not None:
                where = self.lines.line_col(min(span[0] + skip, span[1]))
            else:
                where = (tag.sourceline or 1, (tag.sourcepos or 0) + 1)
            self._run_js(code.encode("utf-8", "surrogatepass"), where, what)

    # --- loads -----------------------------------------------------------------------------

    def _load(self, url: str, what: str, context: str, where: tuple[int, int], *,
              mention: bool = False) -> None:
        url = url.strip().replace("\\", "/")
        if not url or url.lower().startswith(("javascript:", "data:", "about:", "blob:", "#")):
            return
        relative = not url.startswith("//") and not _SCHEME.match(url)
        if relative:
            # `coinhive.com/x.js` in a src is a path on the page's own site, not that host
            absolute = _join(self.base, url)
            hits = self.e.domains.match_url(absolute or ("/" + url.lstrip("/")))
            party: bool | None = False
        else:
            absolute = _join(self.base, url) or url
            hits = self.e.domains.match_url(url)
            party = is_third_party(absolute, self.page_url) if self.page_url else None
        party_word = {True: "third-party ", False: "first-party ", None: ""}[party]
        for hit in hits:
            self._domain_finding(hit, what, context, where, party_word, mention)

    def _domain_finding(self, hit: DomainHit, what: str, context: str, where: tuple[int, int],
                        party_word: str, mention: bool) -> None:
        self._flush()
        source = hit.host and registrable_domain(hit.host)
        frm = f"from {source}" if source else hit.url[:120]
        label = f"{party_word}{what} {frm}".strip()
        ctx = f"{context}, {party_word.strip()}" if party_word else context
        if source:
            ctx += f" ({source})"
        line, col = where
        self.out.findings.append(finding(
            hit.rule, EvidenceKind.domain,
            Location(target=self.target, line=line, column=col, context=ctx),
            message=f"{label}: {hit.rule.description}",
            excerpt=hit.url,
            category="miner-domain-mention" if mention else hit.rule.category,
        ))

    def _mentions(self, body: str, body_start: int | None, context: str) -> None:
        for hit, s, _e in self.e.domains.find_in_text(body[:MAX_DATA_URL]):
            self._flush()
            line, col = self.lines.line_col(body_start + s) if body_start is not None else (None, None)
            self.out.findings.append(finding(
                hit.rule, EvidenceKind.domain,
                Location(target=self.target, line=line, column=col, context=context),
                message=f"mining domain or kit path mentioned in a data block: {hit.url[:120]}",
                excerpt=hit.url, category="miner-domain-mention",
            ))

    # --- nested documents ------------------------------------------------------------------

    def _nested_html(self, tag: Any, where: tuple[int, int]) -> None:
        if self.depth >= MAX_NESTING:
            return
        srcdoc = _attr(tag, "srcdoc")
        doc: bytes | None = None
        how = ""
        if srcdoc and srcdoc.strip():
            doc, how = srcdoc.encode("utf-8", "surrogatepass"), "<iframe srcdoc>"
        else:
            data = _decode_data_url((_attr(tag, "src") or "").strip())
            if data and data[0] in ("text/html", "application/xhtml+xml"):
                doc, how = data[1], "data: URL in <iframe src> (decoded)"
        if not doc:
            return
        # The small scripts it leaves waiting join this page's batch, so that a page of many
        # tiny srcdoc documents costs a JS analysis per batch, not per document; what it shows
        # by itself comes after this page's waiting scripts, and before its own leftovers.
        left: list[_Part] = []
        inner = self.e._analyse(doc, self.target, None, self.depth + 1, left)
        _relocate(inner.findings, how, where)
        if inner.findings or inner.notes or inner.wasm_modules or inner.cut_short:
            self._flush()
            self.out.extend(inner)
        for code, at, ctx, route in left:
            self._queue(code, at, ctx, route + ((how, *where),))

    # --- beyond the parse limit ------------------------------------------------------------

    def _scan_tail(self, start: int) -> None:
        """Scripts past MAX_PARSE_CHARS, found by a plain scan that skips comments."""
        pos = start
        while True:
            m = _TAIL_SCRIPT.search(self.text, pos)
            if m is None:
                return
            if m.group() == "<!--":
                # the comment's end by a plain find; an unclosed comment hides the rest, and a
                # lazy `<!--.*?-->` would rescan that rest from every `<!--` in it
                end = self.text.find("-->", m.end())
                if end < 0:
                    return
                pos = end + 3
                continue
            pos = m.end()
            st = read_start_tag(self.text, m.start())
            if st is None:
                continue
            # go on after the script's body, as a browser would: a `<script` inside the body is
            # script text, and an unclosed script's body is the rest of the page (read from each
            # `<script` in it, 8 MB of `<script>a<b>` held a scan for over ten minutes)
            pos = max(pos, st.end, script_body_span(self.text, st.end)[1])
            attrs = {k: self.text[a:b] for k, (a, b) in st.values.items()}
            fake = _RawTag("script", attrs)
            self.scripts += 1
            self._script(fake, st, self.lines.line_col(st.start))


class _RawTag:
    """Just enough of a bs4 Tag for _element and _script, built from the raw start tag."""

    def __init__(self, name: str, attrs: dict[str, str]):
        self.name = name
        self.attrs = attrs
        self.string = None
        self.sourceline = None
        self.sourcepos = None
