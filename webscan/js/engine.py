"""Static analysis of one JavaScript source: kit APIs, pool protocol, domains, packers, Wasm.

Built once per process (see webscan/scanner.py). All `js` query rules are compiled into ONE
tree-sitter query together with the engine's own structural patterns (loads, packers,
concatenations, protocol objects), and all token rules into ONE regex; a script costs one
parse, one query pass and a few regex passes. tree-sitter is error-tolerant, so a parse error
still leaves a tree to search and becomes evidence of its own rather than a pass.
"""

from __future__ import annotations

import re
try:  # the regex parser, for literal prefilters
    import re._constants as _sre_c
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser, Query, QueryCursor, QueryError

from webscan.analysis import Analysis
from webscan.budget import check as check_budget
from webscan.evidence import excerpt_of, finding
from webscan.js import deobfuscate as deob
from webscan.js import comments as js_comments
from webscan.js import objects as js_objects
from webscan.js import sandbox
from webscan.js import salvage as js_salvage
from webscan.js.inline_scripts import inline_scripts
from webscan.js import strarray
from webscan.js.embedded import find_embedded_wasm, small_int
from webscan.js.helper_calls import HelperCalls
from webscan.model import EvidenceKind, Finding, Location, Severity
from webscan.html.widgets import ElementRules, element_rules
from webscan.rules.schema import JsObjectMatch, JsQuery, JsRule, JsTokens

JS_LANGUAGE = Language(tree_sitter_javascript.language())

DEFAULT_MAX_PARSE_BYTES = 16 * 1024 * 1024
WORDS_CATEGORY = "pool-protocol-words"
"""Category of protocol matches made of scattered words rather than a built message."""
WORDS_WINDOW = 2048
"""Bytes within which all the words of a message must occur for a words-only match: a message
assembled field by field (`m.method = 'login'; p.login = w; p.pass = x; ...`) fits in a few
lines, even with the send call around it."""
MAX_WORD_ANCHORS = 64
MAX_FINDINGS_PER_RULE = 3
MAX_PAYLOAD_DEPTH = 3
MAX_PAYLOAD_TOTAL = 16 * 1024 * 1024
MAX_SEPARATE_PAYLOADS = 16
"""Distinct decoded payloads per script analysed one by one (each analysis has a fixed cost:
a parse, every query, every pass). Past it the small ones are joined in batches (a script of
thousands of `eval(atob("..."))` must not buy thousands of analyses)."""
MAX_BATCH_PART = 64 * 1024
"""Payloads bigger than this are always analysed alone: their fixed cost is small next to
their size, and alone their findings keep every per-script cap to themselves."""
PAYLOAD_BATCH_BYTES = 512 * 1024
"""Bytes of joined payloads per batch analysis."""
PAYLOAD_SEPARATOR = b"\n;\n"
MAX_SANDBOX_RUNS = 4
"""Packer shapes evaluated per script (each in a fresh sandbox context)."""
SANDBOX_FILE_MS = 1500
"""Sandbox time one file may spend, all its packers and nesting levels together: three full
slices of sandbox.SLICE_MS (a packer in a packer in a packer). Real decoders take milliseconds
to a few hundred; a hostile file gets this (plus one kill and restart), then a note: well
inside webscan.budget's 10 s floor."""
SANDBOX_MIN_MS = 50
MAX_SLICE_TRIES = 64
MAX_REPEAT_CALL_BYTES = 256
"""Calls up to this size are recognised when repeated verbatim (see _on_call); a bigger call
is rare per byte, and the bound keeps the texts compared linear in the script's size."""
"""eval/Function call sites per script checked for a packer shape (each costs up to
deobfuscate.MAX_SCOPE_HOPS steps up the tree): a packed library has one or two, and a file of
thousands of `eval(f(x))` must not buy thousands of tree walks."""
EXCERPT_BYTES = 240
MAX_TRIGGER_RANGES = 50_000
MAX_GATED_BYTES = 4096
"""Scripts up to this size are first tested against all triggers at once (one regex): per call
it is far cheaper than a search per trigger, but an alternation costs more per byte, so big
scripts go straight to the per-trigger searches."""
_IDENT_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$") | frozenset(range(0x80, 0x100))
_STRINGY = frozenset(("string_fragment", "string", "template_string", "escape_sequence"))
MAX_TOKEN_CHECKS = 2000
RESOLVED_HOW = "javascript-obfuscator string array resolved"
NORMALISED_HOW = "rewritten with literal names and aliases resolved"
_SEPARATE = bytes(c if c in _IDENT_BYTES and c < 0x80 else 0x20 for c in range(256))
_WORD = re.compile(r"[A-Za-z0-9_$]+")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9_$]+")
_KEY_LIKE = re.compile(r"^[A-Za-z0-9]{20,128}$")
MAX_QUERY_DEPTH = 1500
"""Structure rules match constructs that start at most this many syntax levels deep; deeper
code is searched as text only (tokens, domains, escapes, constants) and a note says so. Real
code stays within a few hundred levels. A deeper tree is built to stall analysers: every step
up the tree from depth d costs O(d) in tree-sitter (nodes keep no parent pointer), and its
query engine degrades sharply past 65,535 levels."""
MAX_QUERY_STATES = 256
"""In-progress matches the query engine keeps at once (tree-sitter's match limit). Without it a
left-nested chain (`a + b + ...`, `x.f().f()...`) keeps one pending match per level and every
node visited updates them all: quadratic. When the limit is hit the outermost pending matches
are dropped, and a note says so. The limit is shared by all patterns of a query (about five
start at each call of a call chain), so 256 keeps a kit call inside ~50 nested calls; every node
visited costs up to this many updates, so a higher limit makes hostile nesting slower."""
MAX_PROTOCOL_CANDIDATES = 256
"""Object literals or assignments holding a protocol value that are rebuilt per script; each
costs a few steps up the tree, and a few hundred give every message shape there is."""
MAX_PARENT_HOPS = 8
"""Steps up the tree from a match to its statement block; each step costs O(depth)."""
MAX_SURVEY_EXPANDED = 200_000
"""Nodes the depth survey expands (only those whose subtree could reach MAX_QUERY_DEPTH); past
it the unexplored rest is treated as deep, so the survey itself stays bounded."""
MAX_NORMALISE_BYTES = 1 << 20
"""Scripts over this size are not rewritten for hidden names (only for string arrays): the
rewrite costs a second analysis, and miner snippets that hide names this way are small."""

# The engine's own structural patterns. Capture names start with "_" so they never clash
# with rule captures; each pattern's handler is the name of its first capture.
_INTERNAL_PATTERNS: list[tuple[str, str | None]] = [
    # 'Coin' + 'Hive': every binary expression near a literal concatenation, so that the tops
    # of `+` chains are found in one pass (see _fold_concats). A pattern with field children
    # (`left: ... right: ...`) would keep one in-progress match per level of a left-nested chain.
    ("(binary_expression) @_bin", r"""['"`]\s*\+\s*['"`]"""),
    # eval("..."), Function("..."), atob("..."), setTimeout("...")
    ('(call_expression function: (identifier) @_callee (#any-of? @_callee "eval" "Function" "atob" '
     '"setTimeout" "setInterval" "execScript") arguments: (arguments . (_))) @_callsite', None),
    ('(new_expression constructor: (identifier) @_newfn (#eq? @_newfn "Function") arguments: (arguments)) @_callsite',
     None),
    # where URLs are loaded: sockets, workers, scripts, fetches, imports
    ('(new_expression constructor: [(identifier) @_load (member_expression property: (property_identifier) @_load)] '
     '(#any-of? @_load "WebSocket" "Worker" "SharedWorker" "EventSource") '
     "arguments: (arguments . (_) @_arg))", None),
    ("(call_expression function: [(identifier) @_load (member_expression property: (property_identifier) @_load)] "
     '(#any-of? @_load "importScripts" "fetch" "instantiateStreaming" "compileStreaming" "io" "sendBeacon" '
     '"getScript") arguments: (arguments (_) @_arg))', None),
    ("(call_expression function: (import) @_load arguments: (arguments . (_) @_arg))", r"import\s*\("),
    ("(assignment_expression left: (member_expression property: (property_identifier) @_load "
     '(#any-of? @_load "src" "workerUrl" "socketUrl")) right: (_) @_arg)', None),
    # worker source assembled into a Blob
    ('(new_expression constructor: (identifier) @_blob (#eq? @_blob "Blob") arguments: (arguments . (array) @_arg))',
     None),
]


@dataclass
class _Hit:
    start: int
    end: int
    row: int
    col: int  # byte column on its row
    text: bytes
    context: str | None = None  # set when the hit is in decoded text


@dataclass
class _Scan:
    """Everything observed in one source; turned into findings at the end."""

    rule_hits: dict[str, list[_Hit]] = field(default_factory=lambda: defaultdict(list))
    token_first: dict[str, _Hit] = field(default_factory=dict)
    in_strings: set[str] = field(default_factory=set)
    load_ranges: list[tuple[int, int]] = field(default_factory=list)
    loaded_names: set[str] = field(default_factory=set)
    loader_params: dict[str, set[int]] = field(default_factory=dict)  # see _loader_parameters
    src: bytes = b""
    decoded: list[deob.Decoded] = field(default_factory=list)
    protocol_objects: list[tuple[Any, _Hit]] = field(default_factory=list)
    packer_payloads: list[deob.Decoded] = field(default_factory=list)
    sandbox_jobs: list[tuple[int, deob.PackerSlice]] = field(default_factory=list)
    slice_tries: int = 0
    calls_folded: set[bytes] = field(default_factory=set)
    """Text of the small decoder and eval-like calls already folded (see _on_call)."""
    scope_tables: dict = field(default_factory=dict)
    slice_budget: deob.SliceBudget = field(default_factory=deob.SliceBudget)
    normalise: bool = False  # names or keys hidden in concatenations: rewrite the script
    folder: deob.Folder = field(default_factory=deob.Folder)
    deep: "_DeepZones" = field(default_factory=lambda: _DeepZones([]))
    protocol_candidates: int = 0
    query_limited: bool = False
    matches: int = 0  # query matches of any pattern, the engine's own included
    domain_hits: int = 0  # domain-list hits in the text, comments included


_PREDICATE = re.compile(r'\(#(eq|any-of|match)\?\s+@[\w.-]+((?:\s+"(?:[^"\\]|\\.)*")+)\s*\)')
_QSTRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _query_string(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), s)


def _strip_anchors(rx: str) -> str:
    """A regex that finds, in the whole source, the text a node-anchored regex matches."""
    out, i, in_class = [], 0, False
    while i < len(rx):
        c = rx[i]
        if c == "\\" and i + 1 < len(rx):
            out.append(rx[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            out.append(c)
            if rx[i + 1:i + 2] == "^":
                out.append("^")
                i += 1
            i += 1
            continue
        elif c in "^$":
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _pattern_trigger(text: str) -> tuple[str, Any] | None:
    """What a pattern's match must contain, from its predicates: words, a regex, or None.

    `#eq?`/`#any-of?` make a captured node's text equal a word, so the word occurs in the
    source; `#match?` makes it match a regex (anchors apply to the node, so they are dropped).
    Among several, the one with the longest shortest word is the most selective.
    """
    best: tuple[str, Any] | None = None
    best_len = -1
    fallback: str | None = None
    for kind, args in _PREDICATE.findall(text):
        vals = [_query_string(v) for v in _QSTRING.findall(args)]
        if not vals:
            continue
        if kind == "match":
            lits = _required_literals(vals[0])
            if lits is None:
                fallback = fallback or vals[0]
                continue
            words, icase = lits
            if min(map(len, words)) > best_len:
                best, best_len = ("literals", (words, icase)), min(map(len, words))
        elif min(map(len, vals)) > best_len:
            best, best_len = ("words", set(vals)), min(map(len, vals))
    if best is not None and best_len >= 3:
        return best
    if fallback is not None:
        body = _strip_anchors(fallback)
        try:
            re.compile(body)
        except re.error:
            return best
        return ("regex", body)
    return best


def _required_literals(rx: str) -> tuple[set[str], bool] | None:
    """Literal strings one of which every match of `rx` contains (RE2-style prefilter).

    Lets a `#match?` predicate be found with a cheap substring search instead of running the
    regex at every position. None when no literal of at least 3 characters is required.
    """
    try:
        parsed = _sre_parse.parse(rx)
    except (re.error, Exception):  # noqa: BLE001 - an odd regex just gets no prefilter
        return None
    icase = bool(parsed.state.flags & re.IGNORECASE)
    best = _seq_literals(list(parsed), 0)
    if not best or min(map(len, best)) < 3:
        return None
    return best, icase


def _seq_literals(items: list, depth: int) -> set[str] | None:
    if depth > 20:
        return None
    candidates: list[set[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is _sre_c.LITERAL:
            run.append(chr(av))
            continue
        if run:
            candidates.append({"".join(run)})
            run = []
        sub = None
        if op is _sre_c.SUBPATTERN:
            sub = _seq_literals(list(av[-1]), depth + 1)
        elif op is _sre_c.BRANCH:
            alts = [_seq_literals(list(b), depth + 1) for b in av[1]]
            if alts and all(alts):
                sub = set().union(*alts)
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and av[0] >= 1:
            sub = _seq_literals(list(av[2]), depth + 1)
        if sub:
            candidates.append(sub)
    if run:
        candidates.append({"".join(run)})
    if not candidates:
        return None
    return max(candidates, key=lambda c: min(map(len, c)))


class JsEngine:
    """JavaScript analyser; see the module docstring. Never raises out of `analyse`."""

    def __init__(self, sigs, *, domains, constants, protocol, wasm,
                 max_parse_bytes: int = DEFAULT_MAX_PARSE_BYTES):
        self.sigs = sigs
        self.domains = domains
        self.constants = constants
        self.protocol = protocol
        names = getattr(protocol, "envelope_names", None)
        self._helpers = HelperCalls(names) if names else None
        self.wasm = wasm
        self.max_parse_bytes = max_parse_bytes
        self._parser = Parser(JS_LANGUAGE)
        self.rules: dict[str, JsRule] = {r.id: r for r in sigs.js}

        # --- queries: every rule's patterns, then the engine's own ---------------------------
        # Each pattern is split out and given a trigger (a word or regex its match must contain,
        # derived from its predicates). Patterns with a trigger go into one query that runs only
        # on the byte ranges where triggers occur; the rest into one query over the whole tree.
        patterns: list[tuple[str, str, str | None]] = []  # (owner, pattern source, explicit trigger)
        comment_patterns: list[tuple[str, str]] = []  # rules with `scope: comments`
        for rule in sigs.js:
            if not isinstance(rule.match, JsQuery):
                continue
            try:
                q = Query(JS_LANGUAGE, rule.match.query)
            except QueryError as e:
                raise ValueError(f"rule {rule.id}: its tree-sitter query does not compile: {e}") from None
            raw = rule.match.query.encode("utf-8")
            for i in range(q.pattern_count):
                text = raw[q.start_byte_for_pattern(i):q.end_byte_for_pattern(i)].decode("utf-8")
                if rule.scope == "comments":
                    comment_patterns.append((rule.id, text))
                else:
                    patterns.append((rule.id, text, None))
        self._comment_owner = [o for o, _ in comment_patterns]
        self._comment_query = (Query(JS_LANGUAGE, "\n".join(t for _, t in comment_patterns))
                               if comment_patterns else None)
        comment_words: set[str] = set()
        for _, text in comment_patterns:
            t = _pattern_trigger(text)
            if t is None or t[0] != "words":
                raise ValueError("a rule with `scope: comments` needs an #eq? or #any-of? "
                                 "predicate naming what the comment must contain")
            comment_words.update(t[1])
        self._comment_triggers = frozenset(w.encode("utf-8") for w in comment_words)
        internal = list(_INTERNAL_PATTERNS)
        fixed = sorted(v for v in getattr(protocol, "fixed_values", ()) if '"' not in v and "\\" not in v)
        if fixed:
            # a message assembled by assignments (`m = {}; m.type = 'submit'; m.params = p`),
            # as javascript-obfuscator's transformObjectKeys writes object literals
            internal.append((
                "(assignment_expression left: (member_expression object: (identifier) @_pobj "
                "property: (property_identifier)) right: (string (string_fragment) @_passign "
                f"(#any-of? @_passign {' '.join(chr(34) + v + chr(34) for v in fixed)})))", None))
            internal.append((
                "(pair key: [(property_identifier) (string)] value: (string (string_fragment) @_proto "
                f"(#any-of? @_proto {' '.join(chr(34) + v + chr(34) for v in fixed)})))", None))
        self._elements: ElementRules | None = element_rules(sigs.js)
        object_rules = [r for r in sigs.js if isinstance(r.match, JsObjectMatch)]
        self._objects = js_objects.ObjectRules(object_rules) if object_rules else None
        if object_rules:
            # object rules: every pair key / assigned property near an anchor key's literal
            # searched as literals (a case-blind one in the lower-cased text): as one regex of
            # `(?i:...)` branches they cost 40 ms per MB
            anchors: set[tuple[bytes, bool]] = set()
            for r in object_rules:
                lits = _required_literals(r.match.object.keys_all[0])
                if lits is None:
                    raise ValueError(f"rule {r.id}: the first of `keys_all` must require a "
                                     "literal of 3 or more characters")
                anchors |= {((w.lower() if lits[1] else w).encode("utf-8"), lits[1]) for w in lits[0]}
            trig = ("literal-set", frozenset(anchors))
            internal += [(js_objects.PAIR_PATTERN, trig), (js_objects.ASSIGN_PATTERN, trig),
                         (js_objects.SHORTHAND_PATTERN, trig)]
        for text, trig in internal:
            q = Query(JS_LANGUAGE, text)
            patterns.append((q.capture_name(0), text, trig))
        words: set[str] = set()
        literals: set[tuple[bytes, bool]] = set()
        regexes: list[str] = []
        anchored: list[tuple[str, str]] = []
        unanchored: list[tuple[str, str]] = []
        for owner, text, trig in patterns:
            t = (trig if isinstance(trig, tuple) else ("regex", trig)) if trig else _pattern_trigger(text)
            if t is None:
                unanchored.append((owner, text))
                continue
            anchored.append((owner, text))
            if t[0] == "literal-set":
                literals.update(t[1])
            elif t[0] == "words":
                words.update(t[1])
            elif t[0] == "literals":
                ws, icase = t[1]
                literals.update(((w.lower() if icase else w).encode("utf-8"), icase) for w in ws)
            else:
                regexes.append(t[1])
        # names the rules look for: when one is written as `X['name']` or `= X.name;` (an
        # alias), the script is normalised (strarray.resolve) so the rules see it
        rule_words: set[str] = set()
        cats = getattr(getattr(sigs, "verdict", None), "categories", {}) or {}
        for owner, text, trig in patterns:
            strong = not owner.startswith("_") and getattr(cats.get(self.rules[owner].category), "strong", False)
            t = _pattern_trigger(text) if strong else None
            if t is not None and t[0] == "words":
                rule_words.update(w for w in t[1] if _WORD.fullmatch(w) and len(w) > 3)
        alt = b"|".join(re.escape(w.encode("utf-8")) for w in sorted(rule_words, key=len, reverse=True))
        # an alias (`var A = NS.Anonymous; new A(...)`) hides a kit's constructor, namespace or
        # constant, capitalised; a lower-case word of a rule (`method`, `byteOffset`) is read
        # as `= e.method,` all through ordinary bundles, and rewriting one costs a whole walk
        caps = sorted((w for w in rule_words if w[0].isupper()), key=len, reverse=True)
        alt_alias = b"|".join(re.escape(w.encode("utf-8")) for w in caps)
        self._hidden_name = re.compile(
            rb"\[\s*['\"](?:" + alt + rb")['\"]\s*\]"
            + (rb"|=\s*[\w$]+(?:\.[\w$]+)*\.(?:" + alt_alias + rb")\s*[;,\n]" if alt_alias else b"")
        ) if alt else None
        # the names _hidden_name looks for, as words: a script holding none of them cannot
        # match it, and a set intersection is far cheaper than the regex (whose alias branch
        # walks every member chain after an `=`)
        self._hidden_words = frozenset(w.encode("utf-8") for w in rule_words)
        # strings whose hiding is worth a rewrite: names of strong rules, protocol values
        self._reveal_words = frozenset(rule_words) | frozenset(getattr(protocol, "fixed_values", ()))
        self._anchored_owner = [o for o, _ in anchored]
        self._unanchored_owner = [o for o, _ in unanchored]
        self._anchored = Query(JS_LANGUAGE, "\n".join(t for _, t in anchored)) if anchored else None
        self._unanchored = Query(JS_LANGUAGE, "\n".join(t for _, t in unanchored)) if unanchored else None
        # trigger words that are whole identifiers are looked up in the script's word set;
        # others (dotted, quoted) and regex literals are searched for directly
        self._trigger_words = frozenset(w.encode("utf-8") for w in words if _WORD.fullmatch(w) and len(w) > 3)
        short = sorted(w for w in words if _WORD.fullmatch(w) and len(w) <= 3)
        # short words hide inside longer ones: one regex each (a literal prefix is fast in C),
        # the regex rejects a longer identifier after the word, Python the one before it
        self._short_trigger_res = [re.compile(re.escape(w).encode() + rb"(?![\w$])") for w in short]
        for w in words:
            if not _WORD.fullmatch(w):
                literals.add((w.encode("utf-8"), False))
        self._trigger_literals = sorted(literals)
        self._trigger_regexes = [re.compile(r.encode("utf-8")) for r in dict.fromkeys(regexes)]
        self._any_trigger = _any_of(
            [re.escape(w) for w in self._trigger_words]
            + [(b"(?i:%s)" if icase else b"%s") % re.escape(lit) for lit, icase in self._trigger_literals]
            + [rx.pattern for rx in (*self._short_trigger_res, *self._trigger_regexes)])

        # --- tokens: rule tokens + protocol vocabulary -------------------------------------
        self._token_rules: list[tuple[JsRule, frozenset[str], frozenset[str], int]] = []
        vocab: set[str] = set(getattr(protocol, "vocabulary", ()))
        for rule in sigs.js:
            if isinstance(rule.match, JsTokens):
                m = rule.match
                self._token_rules.append((rule, frozenset(m.all), frozenset(m.any), m.min_any))
                vocab.update(m.all)
                vocab.update(m.any)
        self._vocab = frozenset(vocab)
        # rules that match a script without any token (none today): only they make the token
        # and protocol passes worth running on a script in which no vocabulary word occurs
        self._token_rules_unconditional = any(
            not all_ and (not any_ or min_any <= 0) for _, all_, any_, min_any in self._token_rules)
        self._protocol_unconditional = protocol is not None and bool(
            protocol.match_tokens(frozenset(), strings=frozenset()) or protocol.sessions(set()))
        self._need_string = frozenset(v.encode("utf-8") for v in getattr(protocol, "fixed_values", ()))
        # token -> the identifier-like parts that must all be in the word set for it to occur
        self._token_parts = {
            t.encode("utf-8"): tuple(p.encode("utf-8") for p in _WORD_SPLIT.split(t) if p)
            for t in vocab if t
        }
        self._tokens_by_part: dict[bytes, list[tuple[bytes, tuple[bytes, ...]]]] = defaultdict(list)
        for tok, parts in self._token_parts.items():
            if parts:
                self._tokens_by_part[parts[0]].append((tok, parts))

        # --- Wasm rules whose conditions are only primitives apply to asm.js constants too -
        self._primitive_rules = [
            r for r in getattr(sigs, "wasm", [])
            if (r.primitives_all or r.primitives_any) and not r.export_patterns
            and not r.import_patterns and r.min_xor_share is None
            and r.min_rotates_per_1000 is None and r.min_instructions == 0
        ]

    # --- public ----------------------------------------------------------------------------

    def analyse(self, source: bytes, target: str, *, line_offset: int = 0, column_offset: int = 0,
                context: str | None = None) -> Analysis:
        """Observe one script. `line_offset`/`column_offset` place it inside its file."""
        try:
            if isinstance(source, str):
                source = source.encode("utf-8", "surrogatepass")
            return self._analyse(bytes(source), target, line_offset, column_offset, context, 0, [0, 0])
        except RecursionError:
            return Analysis(fatal="JavaScript nested too deeply to analyse")
        except Exception as e:  # noqa: BLE001 - never let one bad file stop a scan
            return Analysis(fatal=f"internal error while analysing JavaScript ({type(e).__name__}: {e}); "
                                  "please report it with the file")

    def parses_cleanly(self, source: bytes) -> bool:
        """Whether `source` parses with no ERROR or MISSING node (a complete program)."""
        return not self._parser.parse(source).root_node.has_error

    def quiet(self, source: bytes, target: str) -> bool:
        """Whether analysing `source` observes nothing at all: no finding or note, and no
        query match, vocabulary token, domain-list hit, decoded string or payload on the way.

        Why: the HTML engine clears many small scripts in one pass by joining them (each a
        complete program) and asking this of the whole. Every observation is a local search
        (a query match, a regex or word hit), so one made in a part is made in the whole; what
        is NOT local (per-script caps, names and objects shared across parts, obfuscation
        heuristics) only acts on observations, so a whole that shows none vouches for every
        part. Anything else answers False and the parts are analysed on their own."""
        if strarray.looks_obfuscated(source) or (
                self._hidden_name is not None and self._hidden_name.search(source) is not None):
            return False
        seen: list[_Scan] = []
        try:
            out = self._analyse(bytes(source), target, 0, 0, None, 0, [0], observe=seen)
        except (RecursionError, Exception):  # noqa: BLE001 - the parts get their own analysis
            return False
        if out.findings or out.notes or out.fatal or out.wasm_modules or out.cut_short or not seen:
            return False
        s = seen[0]
        return not (s.matches or any(s.rule_hits.values()) or s.token_first or s.in_strings or s.decoded or s.packer_payloads
                    or s.protocol_objects or s.protocol_candidates or s.normalise
                    or s.domain_hits or s.load_ranges or s.deep.zones or s.query_limited)

    # --- the pipeline ------------------------------------------------------------------------

    def _analyse(self, src: bytes, target: str, line_offset: int, column_offset: int,
                 context: str | None, depth: int, budget: list[int], rewrite: bool = True,
                 observe: list[_Scan] | None = None) -> Analysis:
        out = Analysis()
        if not src.strip():
            out.notes.append(f"{target}: empty script")
            return out
        junk = _not_text(src)
        if junk and (src.startswith(b"\0asm") or len(src) > self.max_parse_bytes
                     or self._parser.parse(src).root_node.has_error):
            # Binary-looking bytes that parse cleanly are a script carrying binary data in
            # its strings (pdf.js ships a whole sandbox that way): analyse it as one.
            out.fatal = f"not JavaScript text: {junk}"
            return out
        if len(src) > self.max_parse_bytes:
            return self._analyse_in_windows(src, target, line_offset, column_offset, context,
                                            depth, budget)
        loc = _Locator(src, target, line_offset, column_offset, context)
        scan = _Scan(src=src)
        root: Node = self._parser.parse(_valid_utf8(src)).root_node
        check_budget()
        scan.deep = _DeepZones.survey(root)
        if root.has_error:
            out.findings.append(self._parse_finding(root, src, loc))
        words = set(src.translate(_SEPARATE).split())
        self._run_query(root, src, words, scan)
        if root.has_error:
            self._salvage(src, root, scan)
        self._comment_rules(src, root, words, scan)
        self._widgets(src, root, scan)
        self._scan_tokens(src, root, words, scan, loc)
        check_budget()
        self._deobfuscate(src, root, scan, out, loc)
        # scripts written as markup inside this one; only those a structure rule could match
        scan.packer_payloads += [d for d in inline_scripts(src) if self._any_trigger is not None
                                 and self._any_trigger.search(d.text.encode("utf-8", "replace"))]
        if scan.sandbox_jobs and observe is None:
            self._sandbox(src, scan, out, loc, budget)
        if rewrite:
            self._resolve_string_arrays(src, root, words, scan, out, loc)
        check_budget()
        self._scan_decoded_tokens(scan, loc)
        self._domains(src, root, scan, out, loc)
        self._constants(src, out, loc)
        self._embedded_wasm(src, scan, out, loc)
        self._rule_findings(scan, out, loc)
        if self._helpers is not None:
            for shape, call in self._helpers.messages(src, root, _object_shape):
                scan.protocol_objects.append((shape, _hit_of(call, src)))
        self._protocol_findings(src, scan, out, loc)
        self._bound_notes(scan, out, loc)
        self._payloads(scan, out, loc, target, depth, budget)
        if observe is not None:
            observe.append(scan)
        return out

    def _bound_notes(self, scan: _Scan, out: Analysis, loc: "_Locator") -> None:
        """Say which explicit bound stopped a pass, so a reader knows what was not seen."""
        if scan.deep.zones:
            out.notes.append(
                f"{loc.target}: {scan.deep.size:,} bytes of code nested deeper than "
                f"{MAX_QUERY_DEPTH} syntax levels were searched as text only (structure rules "
                "do not reach that deep)")
        if scan.query_limited:
            out.notes.append(
                f"{loc.target}: over {MAX_QUERY_STATES} constructs nested in one another were "
                "pending at once (a long chain such as a + b + ...); structure rules may miss "
                "the outermost ones")
        if scan.protocol_candidates > MAX_PROTOCOL_CANDIDATES:
            out.notes.append(
                f"{loc.target}: {scan.protocol_candidates:,} objects carry pool-protocol values; "
                f"only the first {MAX_PROTOCOL_CANDIDATES} were rebuilt as messages")
        if scan.folder.bound_hit:
            out.notes.append(f"{loc.target}: folding of literal expressions stopped at a bound "
                             f"({scan.folder.bound_hit}); the rest was left unfolded")

    def _analyse_in_windows(self, src: bytes, target: str, line_offset: int, column_offset: int,
                            context: str | None, depth: int, budget: list[int]) -> Analysis:
        """A script too big to parse at once (a 50 MB bundle) is parsed in windows cut at line
        ends (else at a `;`), so structure rules still run everywhere with bounded memory; only
        a construct or token set spanning a cut can be missed, and the note says so."""
        out = Analysis()
        start, line, windows = 0, line_offset, 0
        while start < len(src):
            end = min(len(src), start + self.max_parse_bytes)
            if end < len(src):
                cut = src.rfind(b"\n", start, end)
                if cut <= start:
                    cut = src.rfind(b";", start, end)
                if cut > start:
                    end = cut + 1
            chunk = src[start:end]
            part = self._analyse(chunk, target, line, column_offset if start == 0 else 0,
                                 context, depth, budget)
            out.extend(part)
            out.fatal = out.fatal or part.fatal
            line += chunk.count(b"\n")
            start = end
            windows += 1
        out.notes.append(f"{target}: {len(src) / 1e6:.1f} MB is over the "
                         f"{self.max_parse_bytes / 1e6:.0f} MB parse window; parsed in {windows} "
                         "windows cut at line ends (a construct spanning a cut can be missed)")
        return out

    # --- query -------------------------------------------------------------------------------

    def _run_query(self, root: Node, src: bytes, words: set[bytes], scan: _Scan) -> None:
        """Every pattern's matches, then the `+` chains folded (one pass each).

        Each cursor is bounded by MAX_QUERY_DEPTH and MAX_QUERY_STATES, which makes a query
        pass O(nodes). Trigger ranges are used only while they are few next to the tree:
        each range costs a descent from the root and re-visits the range's ancestors.
        """
        ctx: dict[str, Any] = {"bins": [], "seen": set()}
        if self._unanchored is not None:
            cursor = _cursor(self._unanchored)
            for idx, caps in _windowed_matches(cursor, root, len(src)):
                self._on_match(self._unanchored_owner[idx], caps, src, scan, ctx)
            scan.query_limited |= cursor.did_exceed_match_limit
        if self._anchored is not None:
            ranges = self._trigger_ranges(src, words)
            if ranges and (scan.deep.zones or
                                       len(ranges) * RANGE_COST_NODES > root.descendant_count) \
                    and _is_utf8(src):
                # one pass over the whole tree is cheaper (but tree-sitter's text predicates
                # raise on invalid UTF-8, which trigger ranges mostly keep out of reach)
                ranges = None
            cursor = _cursor(self._anchored)
            if ranges is None:
                for idx, caps in _windowed_matches(cursor, root, len(src)):
                    self._on_match(self._anchored_owner[idx], caps, src, scan, ctx)
            else:
                seen = ctx["seen"]
                starts = [r[0] for r in ranges]
                for s, e in _spans_near(ranges, RANGE_MERGE_GAP):
                    cursor.set_byte_range(s, e)
                    for idx, caps in cursor.matches(root):
                        if not _touches(caps, ranges, starts):
                            continue  # met only because the span joined two trigger ranges
                        first = next(iter(caps.values()), None)
                        key = (idx, first[0].start_byte, first[0].end_byte) if first else (idx, s, e)
                        if key in seen:
                            continue
                        seen.add(key)
                        self._on_match(self._anchored_owner[idx], caps, src, scan, ctx)
            scan.query_limited |= cursor.did_exceed_match_limit
        self._fold_concats(ctx["bins"], scan)

    def _salvage(self, src: bytes, root: Node, scan: _Scan) -> None:
        """Rule patterns on the ERROR parts of a broken script, their brackets closed
        (salvage.py): a kit call cut off by a swallowed line break is still a kit call."""
        if self._anchored is None or self._any_trigger is None:
            return
        cursor = _cursor(self._anchored)
        for base, text in js_salvage.error_fragments(root, src):
            if self._any_trigger.search(text) is None:
                continue
            froot = self._parser.parse(text).root_node
            for idx, caps in cursor.matches(froot):
                owner = self._anchored_owner[idx]
                nodes = caps.get("hit")
                if owner.startswith("_") or not nodes:
                    continue
                hits = scan.rule_hits[owner]
                at = base + nodes[0].start_byte
                end = min(base + nodes[0].end_byte, len(src))
                if len(hits) < MAX_FINDINGS_PER_RULE and all(h.start != at for h in hits):
                    hits.append(_Hit(at, end, 0, 0, src[at:min(end, at + EXCERPT_BYTES)],
                                     context="in a part of a script that does not parse as a "
                                             "whole, read with its open brackets closed"))

    def _comment_rules(self, src: bytes, root: Node, words: set[bytes], scan: _Scan) -> None:
        """Rules with `scope: comments`, on the uncommented text of the comments that hold
        their trigger words (see comments.py); a hit points at its comment."""
        if self._comment_query is None:
            return
        found = js_comments.collect(src, root, words, self._comment_triggers, scan.deep.node_at)
        if found is None:
            return
        croot = self._parser.parse(found.text).root_node
        cursor = _cursor(self._comment_query)
        for idx, caps in cursor.matches(croot):
            owner = self._comment_owner[idx]
            hits = scan.rule_hits[owner]
            nodes = caps.get("hit") or next(iter(caps.values()), [])
            if not nodes or len(hits) >= MAX_FINDINGS_PER_RULE:
                continue
            at = found.source_offset(nodes[0].start_byte)
            if all(h.start != at for h in hits):
                hits.append(_Hit(at, at + 1, 0, 0, nodes[0].text[:EXCERPT_BYTES],
                                 context="inside a comment (a browser does not run it)"))

    def _widgets(self, src: bytes, root: Node, scan: _Scan) -> None:
        """Kit widgets written as markup in the script (widgets.py), outside comments."""
        if self._elements is None:
            return
        for w in self._elements.find_in_text(src):
            hits = scan.rule_hits[w.rule.id]
            if len(hits) >= MAX_FINDINGS_PER_RULE:
                continue
            node = scan.deep.node_at(root, w.start, w.start + 1)
            if node is not None and node.type in js_comments.COMMENT_TYPES:
                continue
            hits.append(_Hit(w.start, w.end, 0, 0, src[w.start:min(w.end, w.start + EXCERPT_BYTES)],
                             context="kit widget markup in the script"))

    def _trigger_ranges(self, src: bytes, words: set[bytes]) -> list[tuple[int, int]] | None:
        """Byte ranges where some anchored pattern could match, merged; None if too many."""
        if (self._any_trigger is not None and len(src) <= MAX_GATED_BYTES
                and self._any_trigger.search(src) is None):
            return []  # one C pass instead of one per trigger: most small scripts have none
        spans: list[tuple[int, int]] = []
        n = len(src)
        low: bytes | None = None
        for w in self._trigger_words & words:
            pos = src.find(w)
            while pos >= 0:
                end = pos + len(w)
                if not ((pos and src[pos - 1] in _IDENT_BYTES) or (end < n and src[end] in _IDENT_BYTES)):
                    spans.append((pos, end))
                    if len(spans) > MAX_TRIGGER_RANGES:
                        return None
                pos = src.find(w, end)
        for lit, icase in self._trigger_literals:
            if icase and low is None:
                low = src.lower()
            hay = low if icase else src
            pos = hay.find(lit)
            while pos >= 0:
                spans.append((pos, pos + len(lit)))
                if len(spans) > MAX_TRIGGER_RANGES:
                    return None
                pos = hay.find(lit, pos + 1)
        for rx in self._short_trigger_res:
            for m in rx.finditer(src):
                if m.start() and src[m.start() - 1] in _IDENT_BYTES:
                    continue
                spans.append(m.span())
            if len(spans) > MAX_TRIGGER_RANGES:
                return None
        for rx in self._trigger_regexes:
            for m in rx.finditer(src):
                spans.append(m.span())
                if len(spans) > MAX_TRIGGER_RANGES:
                    return None
        spans.sort()
        ranges: list[tuple[int, int]] = []
        for s, e in spans:
            if ranges and s <= ranges[-1][1]:
                if e > ranges[-1][1]:
                    ranges[-1] = (ranges[-1][0], e)
            else:
                ranges.append((s, e))
        return ranges

    def _on_match(self, owner: str, caps: dict, src: bytes, scan: _Scan, ctx: dict) -> None:
        check_budget()
        scan.matches += 1
        if not owner.startswith("_"):
            hits = scan.rule_hits[owner]
            if len(hits) < MAX_FINDINGS_PER_RULE:
                nodes = caps.get("hit") or next(iter(caps.values()), [])
                if nodes and all(h.start != nodes[0].start_byte for h in hits):
                    hits.append(_hit_of(nodes[0], src))
            return
        node = caps[owner][0]
        if owner == "_bin":
            ctx["bins"].append(node)
        elif owner in ("_callee", "_newfn"):
            self._on_call(caps["_callsite"][0], owner == "_newfn", scan, src)
        elif owner == "_load":
            for arg in caps.get("_arg", []):
                scan.load_ranges.append((arg.start_byte, arg.end_byte))
                if arg.type == "identifier":
                    scan.loaded_names.add(arg.text.decode("utf-8", "replace"))
                elif arg.type == "member_expression":
                    p = arg.child_by_field_name("property")
                    if p is not None:
                        scan.loaded_names.add(p.text.decode("utf-8", "replace"))
        elif owner in ("_okey", "_oobj"):
            self._on_object_key(caps["_okey"][0], node if owner == "_oobj" else None, src, scan, ctx)
        elif owner == "_blob":
            for arr in caps.get("_arg", []):
                self._on_blob(arr, scan)
        elif owner == "_pobj":
            scan.protocol_candidates += 1
            if scan.protocol_candidates > MAX_PROTOCOL_CANDIDATES:
                return
            name = node.text.decode("utf-8", "replace")
            block = node.parent
            hops = 0
            while block is not None and block.type not in ("statement_block", "program"):
                hops += 1
                block = block.parent if hops < MAX_PARENT_HOPS else None
            key = (name, block.start_byte if block is not None else -1)
            if block is not None and key not in ctx["seen"]:
                ctx["seen"].add(key)
                shape = _assembled_shape(name, block, 0)
                if shape:
                    scan.protocol_objects.append((shape, _hit_of(node.parent.parent, src)))
        elif owner == "_proto":
            scan.protocol_candidates += 1
            if scan.protocol_candidates > MAX_PROTOCOL_CANDIDATES:
                return
            pair = node.parent.parent if node.parent is not None else None
            obj = pair.parent if pair is not None else None
            if obj is not None and obj.type == "object":
                top = obj
                # the message may be nested ({method, params:{...}}) or be nested itself
                hops = 0
                while (top.parent is not None and top.parent.type == "pair" and hops < 3
                       and top.parent.parent is not None and top.parent.parent.type == "object"):
                    top = top.parent.parent
                    hops += 1
                scan.protocol_objects.append((_object_shape(top), _hit_of(top, src)))
                if top is not obj:
                    scan.protocol_objects.append((_object_shape(obj), _hit_of(obj, src)))

    def _on_object_key(self, key: Node, target: Node | None, src: bytes, scan: _Scan,
                       ctx: dict) -> None:
        """An anchor key of an object rule: rebuild its object's key set (objects.py) once."""
        if self._objects is None or not self._objects.is_anchor(js_objects.key_text(key)):
            return
        ctx["objects"] = n = ctx.get("objects", 0) + 1
        if n > js_objects.MAX_CANDIDATES:
            return
        hit = js_objects.pair_of(key)
        name: str | None = None
        if target is not None:
            name = target.text.decode("utf-8", "replace")
            hit = hit.parent if hit is not None and hit.parent is not None else hit
        else:
            obj = hit.parent if hit is not None else None
            if obj is None or obj.type != "object":
                return
            hit, up = obj, obj.parent
            if up is not None and up.type == "variable_declarator":
                n_ = up.child_by_field_name("name")
                name = n_.text.decode("utf-8", "replace") if n_ is not None else None
            elif up is not None and up.type == "assignment_expression":
                n_ = up.child_by_field_name("left")
                name = n_.text.decode("utf-8", "replace") if n_ is not None else None
        if name is None:
            keys = js_objects.literal_keys(hit)
        else:
            block = js_objects.enclosing_block(key)
            seen_key = ("object", name, block.start_byte if block is not None else -1)
            if block is None or seen_key in ctx["seen"]:
                return
            ctx["seen"].add(seen_key)
            keys = js_objects.assigned_keys(name, block)
        for rule in self._objects.matching(keys):
            hits = scan.rule_hits[rule.id]
            if len(hits) < MAX_FINDINGS_PER_RULE and all(h.start != hit.start_byte for h in hits):
                hits.append(_hit_of(hit, src))

    def _fold_concats(self, bins: list[Node], scan: _Scan) -> None:
        """Fold the top of every `+` chain that joins literals ('Coin' + 'Hive'), once.

        `bins` are the binary expressions near literal concatenations. Sorted in tree order
        (start, outermost first), a stack of open ones gives each its nearest enclosing binary
        expression without stepping up the tree: a `+` whose enclosing `+` holds it as an
        operand (through parentheses) continues that chain, any other `+` starts one. Each
        node is looked at once and each chain folded once, with a memo shared by every fold
        in the script: O(nodes).
        """
        if not bins:
            return
        bins.sort(key=lambda n: (n.start_byte, -n.end_byte))
        stack: list[tuple[int, Node, bool]] = []  # (end byte, node, is a `+`)
        tops: dict[int, Node] = {}  # node id -> top of its chain
        wanted: dict[int, Node] = {}  # tops of chains with a literal + literal step
        for b in bins:
            while stack and stack[-1][0] <= b.start_byte:
                stack.pop()
            op = b.child_by_field_name("operator")
            plus = op is not None and op.type == "+"
            if plus:
                top = b
                if stack and stack[-1][2]:
                    parent = stack[-1][1]
                    for side in ("left", "right"):
                        c = parent.child_by_field_name(side)
                        if c is not None and deob.unparen(c).id == b.id:
                            top = tops.get(parent.id, parent)
                            break
                tops[b.id] = top
                left, right = b.child_by_field_name("left"), b.child_by_field_name("right")
                if (left is not None and right is not None and right.type in _LITERALS
                        and left.type in _CHAIN_LEFT):
                    wanted.setdefault(top.id, top)
            stack.append((b.end_byte, b, plus))
        for top in wanted.values():
            v = scan.folder.value(top)
            if v is not None and v[0]:
                how = "string concatenation" + (f" and {', '.join(v[1])}" if v[1] else "")
                scan.decoded.append(deob.Decoded(v[0], top.start_byte, how))
                # a name or key split into pieces ('Coin' + 'Hive'), not prose or markup
                if not v[1] and (v[0] in self._reveal_words or _KEY_LIKE.match(v[0])):
                    scan.normalise = True

    def _on_call(self, call: Node | None, is_new: bool, scan: _Scan, src: bytes) -> None:
        """A decoder or eval-like call: its decoded string or payload, or a sandbox job.

        A small call whose exact text was already folded in this script gives nothing new (a
        folded value depends only on literals, never on scope), so it is passed over: a script
        of thousands of identical `eval(atob("..."))` folds one."""
        if call is None:
            return
        key: bytes | None = None
        if call.end_byte - call.start_byte <= MAX_REPEAT_CALL_BYTES:
            key = src[call.start_byte:call.end_byte]
            if key in scan.calls_folded:
                return
        fn = call.child_by_field_name("function") or call.child_by_field_name("constructor")
        args = call.child_by_field_name("arguments")
        if fn is None or args is None or not args.named_child_count:
            return
        name = fn.text.decode("utf-8", "replace")
        if name == "atob":
            v = scan.folder.value(call)
            if v is not None:
                if key is not None:
                    scan.calls_folded.add(key)
                raw = v[0].encode("latin-1", "replace")
                text = deob.is_texty(raw, min_share=0.9)
                if text is None:
                    scan.decoded.append(deob.Decoded("", call.start_byte, "atob() of a literal", raw=raw))
                else:
                    scan.decoded.append(deob.Decoded(text, call.start_byte, "atob() of a literal",
                                                     payload=len(text) > 200 and deob.looks_like_js(text)))
            return
        body = args.named_children[-1] if name == "Function" else args.named_children[0]
        v = scan.folder.value(body)
        if (v is None and len(scan.sandbox_jobs) < MAX_SANDBOX_RUNS and scan.slice_tries < MAX_SLICE_TRIES
                and not scan.deep.contains(call.start_byte)):
            scan.slice_tries += 1
            job = deob.packer_slice(call, body, scan.scope_tables, scan.slice_budget)  # a decoder only a JS engine can run
            if job is not None:
                scan.sandbox_jobs.append((call.start_byte, job))
        if v is None:
            return
        if key is not None:
            scan.calls_folded.add(key)
        if not v[0].strip():
            return
        text = v[0]
        if any(s == "atob" for s in v[1]):
            text = deob.is_texty(text.encode("latin-1", "replace"), min_share=0.9) or text
        inner = "".join(f"{s}(" for s in reversed(v[1])) + "..." + ")" * len(v[1])
        how = f"{'new ' if is_new else ''}{name}({inner})"
        scan.packer_payloads.append(deob.Decoded(text, call.start_byte, how, payload=True))

    def _on_blob(self, arr: Node, scan: _Scan) -> None:
        for part in arr.named_children[:64]:
            v = scan.folder.value(part)
            if v is not None and deob.looks_like_js(v[0]):
                scan.packer_payloads.append(deob.Decoded(v[0], part.start_byte, "Blob worker source",
                                                         payload=True))

    # --- tokens ------------------------------------------------------------------------------

    def _scan_tokens(self, src: bytes, root: Node | None, words: set[bytes], scan: _Scan,
                     loc: "_Locator") -> None:
        """First non-comment occurrence of every vocabulary token, and which occur in strings.

        The script's word set says which tokens can occur at all; each is then located with
        bytes.find and checked against the tree, stopping at the first occurrence that settles
        it, so a frequent word costs a handful of tree look-ups, not one per occurrence.
        """
        n = len(src)
        for tok, parts in self._possible_tokens(words):
            need_string = tok in self._need_string
            name = tok.decode("utf-8", "replace")
            pos = src.find(tok)
            checks = 0
            while pos >= 0 and checks < MAX_TOKEN_CHECKS:
                end = pos + len(tok)
                if (pos and src[pos - 1] in _IDENT_BYTES) or (end < n and src[end] in _IDENT_BYTES):
                    pos = src.find(tok, end)
                    continue
                checks += 1
                node = scan.deep.node_at(root, pos, end)
                if node is not None:
                    t = node.type
                    if t in js_comments.COMMENT_TYPES or _feature_test(node):
                        pos = src.find(tok, end)
                        continue
                    in_string = t in _STRINGY
                else:
                    in_string = pos > 0 and src[pos - 1] in b"'\"`"
                if name not in scan.token_first:
                    scan.token_first[name] = _Hit(pos, end, *loc.row_col(pos), tok)
                if in_string:
                    scan.in_strings.add(name)
                if not need_string or in_string:
                    break
                pos = src.find(tok, end)

    def _possible_tokens(self, words: set[bytes]) -> list[tuple[bytes, tuple[bytes, ...]]]:
        """Vocabulary tokens whose every part is a word of the script, looked up from the
        smaller side: a small script (an event handler; a page may have thousands) costs its
        few words, not one check per vocabulary token."""
        if len(words) < len(self._token_parts):
            by_part = self._tokens_by_part
            return [(tok, parts) for w in words for tok, parts in by_part.get(w, ())
                    if all(p in words for p in parts)]
        return [(tok, parts) for tok, parts in self._token_parts.items()
                if parts and all(p in words for p in parts)]

    def _scan_decoded_tokens(self, scan: _Scan, loc: "_Locator") -> None:
        texts = [d for d in scan.decoded if d.text and not d.payload]
        if not texts:
            return
        blob = "\n".join(d.text for d in texts).encode("utf-8", "replace")
        words = set(blob.translate(_SEPARATE).split())
        starts, acc = [], 0
        for d in texts:
            starts.append(acc)
            acc += len(d.text.encode("utf-8", "replace")) + 1
        n = len(blob)
        for tok, parts in self._possible_tokens(words):
            pos = blob.find(tok)
            while pos >= 0:
                end = pos + len(tok)
                if (pos and blob[pos - 1] in _IDENT_BYTES) or (end < n and blob[end] in _IDENT_BYTES):
                    pos = blob.find(tok, end)
                    continue
                name = tok.decode("utf-8", "replace")
                scan.in_strings.add(name)
                if name not in scan.token_first:
                    d = texts[bisect_right(starts, pos) - 1]
                    scan.token_first[name] = _Hit(d.start, d.start + 1, *loc.row_col(d.start), tok,
                                                  context=f"in a string decoded from {d.how}")
                break

    # --- de-obfuscation ----------------------------------------------------------------------

    def _deobfuscate(self, src: bytes, root: Node | None, scan: _Scan, out: Analysis,
                     loc: "_Locator") -> None:
        esc, hidden = deob.escaped_strings(src, root, deep=scan.deep.contains)
        scan.decoded += esc
        # names spelled as escapes (`X['\x41\x6e...']`): rewrite so the rules see them
        if hidden and any(d.text in self._reveal_words for d in esc):
            scan.normalise = True
        if hidden >= 3:
            first = next(d for d in esc)
            out.findings.append(_engine_finding(
                "js.deobfuscate.escaped-strings", "obfuscation", Severity.low,
                f"{hidden} string literals spell plain letters and digits as \\x/\\u escapes, which "
                "hides words from text search; their decoded values were scanned",
                loc.location(first.start), excerpt=src[first.start:first.start + EXCERPT_BYTES]))
        arr, infos = deob.string_arrays(src)
        scan.decoded += arr
        for info in infos:
            if info.base64_entries >= 4 and info.base64_entries * 2 >= info.entries:
                out.findings.append(_engine_finding(
                    "js.deobfuscate.string-array", "obfuscation", Severity.low,
                    f"array of {info.entries} strings, {info.base64_entries} of them base64-encoded "
                    "(javascript-obfuscator style string array); the decoded strings were scanned",
                    loc.location(info.start), excerpt=src[info.start:info.start + EXCERPT_BYTES]))
                break
        for d in deob.base64_literals(src):
            (scan.packer_payloads if d.payload else scan.decoded).append(d)

    def _sandbox(self, src: bytes, scan: _Scan, out: Analysis, loc: "_Locator", budget: list[int]) -> None:
        """Packer shapes whose decoder needs a JavaScript engine: run each slice in the sandbox
        (sandbox.py) and analyse what it would have run as a payload. At most
        MAX_SANDBOX_RUNS evaluations and SANDBOX_FILE_MS of sandbox time per file, all
        nesting levels together (budget[1] keeps the milliseconds spent)."""
        if len(budget) < 2:
            budget.append(0)
        for start, job in scan.sandbox_jobs:
            check_budget()
            left = SANDBOX_FILE_MS - budget[1]
            if left < SANDBOX_MIN_MS:
                out.notes.append(f"{loc.target}: a packer ({job.shape}) was not evaluated: the "
                                 f"file's sandbox time ({SANDBOX_FILE_MS} ms) is spent")
                return
            res = sandbox.evaluate_decoder(job.source, time_ms=min(sandbox.SLICE_MS, left))
            budget[1] += int(res.elapsed_ms) + 1
            texts = [t for _, t in res.outputs if t.strip()]
            if res.status != "ok" or not texts:
                out.notes.append(f"{loc.target}: packer {job.shape} at line {loc.row_col(start)[0] + 1 + loc.line_offset} "
                                 f"evaluated in the sandbox: {res.note}"
                                 + ("" if texts else "; it produced no code"))
            if not texts:
                continue
            kinds = sorted({k for k, t in res.outputs if t.strip()})
            how = f"sandbox: {job.shape}"
            for text in texts:
                d = deob.Decoded(text, start, how, payload=deob.looks_like_js(text))
                (scan.packer_payloads if d.payload else scan.decoded).append(d)
            out.findings.append(_engine_finding(
                "js.deobfuscate.sandbox-unpacked", "obfuscation", Severity.low,
                f"packed code ({job.shape}) unpacked by running its decoder in the sandbox: "
                f"{sum(len(t) for t in texts):,} characters handed to {', '.join(kinds)}; "
                "findings inside it are labelled as decoded from the sandbox",
                loc.location(start), excerpt=src[start:start + EXCERPT_BYTES]))

    def _resolve_string_arrays(self, src: bytes, root: Node, words: set[bytes], scan: _Scan,
                               out: Analysis, loc: "_Locator") -> None:
        """javascript-obfuscator output: evaluate its string-array decoder (strarray.py) and
        analyse the script again with the strings put back, so structure rules apply."""
        normalise = len(src) <= MAX_NORMALISE_BYTES and (
            scan.normalise or (self._hidden_name is not None and not self._hidden_words.isdisjoint(words)
                               and self._hidden_name.search(src) is not None))
        res = strarray.resolve(src, root, normalise=normalise)
        if res is None:
            return
        how = RESOLVED_HOW if res.calls else NORMALISED_HOW
        scan.packer_payloads.append(deob.Decoded(res.text, 0, how, payload=True, origin=res.edits))
        if not res.calls:
            return
        # a note, not a finding: benign sites use javascript-obfuscator too, and the evidence
        # that matters is what the resolved script does, which the rewrite is analysed for
        out.notes.append(
            f"{loc.target}: javascript-obfuscator string array; {res.calls} decoder calls resolved "
            f"statically (encoding {'/'.join(res.encodings)}, array rotated by {res.rotation}) and "
            "the script analysed again with the strings put back")

    # --- domains -----------------------------------------------------------------------------

    def _domains(self, src: bytes, root: Node | None, scan: _Scan, out: Analysis, loc: "_Locator") -> None:
        if self.domains is None:
            return
        text = src.decode("utf-8", "replace")
        ascii_only = len(text) == len(src)
        per_rule: dict[str, int] = defaultdict(int)
        found = self.domains.find_in_text(text)
        scan.domain_hits = len(found)
        for hit, cs, ce in found[:500]:
            b = cs if ascii_only else len(text[:cs].encode("utf-8", "replace"))
            node = scan.deep.node_at(root, b, b + max(1, ce - cs))
            if node is not None and node.type in js_comments.COMMENT_TYPES:
                continue
            loaded = self._is_loaded(b, root, scan, hit.url)
            self._domain_finding(hit, b, loaded, out, loc, per_rule, None)
        texts = [d for d in scan.decoded if d.text and not d.payload]
        if not texts:
            return
        starts, acc = [], 0
        for d in texts:
            starts.append(acc)
            acc += len(d.text) + 1
        for hit, cs, _ in self.domains.find_in_text("\n".join(d.text for d in texts))[:100]:
            d = texts[bisect_right(starts, cs) - 1]
            loaded = self._is_loaded(d.start, root, scan, hit.url)
            self._domain_finding(hit, d.start, loaded, out, loc, per_rule,
                                 f"in a string decoded from {d.how}")

    def _is_loaded(self, b: int, root: Node | None, scan: _Scan, url: str) -> bool:
        if url[:6].lower() in ("ws://", "wss://") or url[:4].lower() == "ws:/":
            return True  # a socket URL is only there to be opened
        for s, e in scan.load_ranges:
            if s <= b < e:
                return True
        node = scan.deep.node_at(root, b, b + 1)
        for _ in range(MAX_PARENT_HOPS):
            if node is None:
                return False
            t = node.type
            if t == "variable_declarator":
                n = node.child_by_field_name("name")
                return n is not None and n.text.decode("utf-8", "replace") in scan.loaded_names
            if t == "pair":
                k = node.child_by_field_name("key")
                return k is not None and k.text.decode("utf-8", "replace").strip("'\"") in scan.loaded_names
            if t == "assignment_expression":
                left = node.child_by_field_name("left")
                if left is not None and left.type == "member_expression":
                    left = left.child_by_field_name("property")
                name = left.text.decode("utf-8", "replace") if left is not None else ""
                if name in _MARKUP_PROPERTIES:
                    return _TAG_WITH_SOURCE.search(node.text) is not None
                return name in scan.loaded_names
            if t == "arguments":
                return self._loading_call(node, b, scan)
            if t in ("statement_block", "program", "function_declaration"):
                return False
            node = node.parent
        return False

    def _loading_call(self, args: Node, b: int, scan: _Scan) -> bool:
        """Whether the call whose argument holds byte `b` loads it: markup with a script or
        frame written into the page (`document.write('<script src=...>')`, `$(x).append(...)`),
        `el.setAttribute('src', url)`, or a function of the script that hands that parameter
        to a load (`function load(u) { s.src = u; } load(url)`), the usual injector."""
        call = args.parent
        fn = call.child_by_field_name("function") if call is not None and call.type == "call_expression" else None
        if fn is None:
            return False
        callee = fn.child_by_field_name("property") if fn.type == "member_expression" else fn
        name = callee.text.decode("utf-8", "replace") if callee is not None else ""
        if name in _MARKUP_SINKS:
            return _TAG_WITH_SOURCE.search(args.text) is not None
        pos = next((i for i, a in enumerate(args.named_children) if a.start_byte <= b < a.end_byte), -1)
        if name == "setAttribute":
            first = args.named_children[0] if args.named_children else None
            return pos == 1 and first is not None and first.text.strip(b"'\"`").lower() in (b"src", b"data")
        if fn.type != "identifier" or pos < 0 or not scan.loaded_names:
            return False
        return pos in self._loader_parameters(name, scan)

    def _loader_parameters(self, name: str, scan: _Scan) -> set[int]:
        """Positions of `name`'s parameters that the script loads (found among `loaded_names`
        by a definition's text: `function name(a, b)`, `name = function (a)`, `name = (a) =>`)."""
        if name not in scan.loader_params:
            if len(scan.loader_params) >= MAX_LOADER_LOOKUPS:
                return set()  # each look-up reads the script once: a few names, not thousands
            found: set[int] = set()
            rx = re.compile(rb"(?:function\s+" + re.escape(name.encode()) + rb"|(?<![\w$.])"
                            + re.escape(name.encode()) + rb"\s*=\s*(?:async\s+)?(?:function\b\s*[\w$]*)?)"
                            rb"\s*\(([^()]{0,256})\)")
            for k, m in enumerate(rx.finditer(scan.src)):
                if k >= MAX_DEFINITIONS_LOOKED_AT:
                    break
                params = [p.strip().split(b"=")[0].strip().decode("utf-8", "replace")
                          for p in m.group(1).split(b",")]
                found |= {i for i, p in enumerate(params) if p in scan.loaded_names}
            scan.loader_params[name] = found
        return scan.loader_params[name]

    def _domain_finding(self, hit, b: int, loaded: bool, out: Analysis, loc: "_Locator",
                        per_rule: dict[str, int], ctx: str | None) -> None:
        key = f"{hit.rule.id}:{loaded}"
        if per_rule[key] >= MAX_FINDINGS_PER_RULE:
            return
        per_rule[key] += 1
        name = hit.host or hit.url
        message = (f"{name} is loaded (socket, worker, script or fetch): {hit.rule.description}"
                   if loaded else
                   f"{name}, a known mining host or kit path, is mentioned in a string but not "
                   "seen being loaded (anti-miner lists do this too)")
        out.findings.append(finding(
            hit.rule, EvidenceKind.domain, loc.location(b, ctx),
            message=message,
            excerpt=hit.url, category=None if loaded else "miner-domain-mention"))

    # --- constants ---------------------------------------------------------------------------

    def _constants(self, src: bytes, out: Analysis, loc: "_Locator") -> None:
        if self.constants is None:
            return
        ints, spelling = _numeric_literals(src)
        data = _byte_arrays(src)
        if not ints and not data:
            return
        try:
            hits = self.constants.match(ints=ints, data=data)
        except Exception as e:  # noqa: BLE001 - a helper's bug must not hide the rest
            out.notes.append(f"hash-constant matching failed: {type(e).__name__}: {e}")
            return
        if not hits:
            return
        for name, ph in hits.items():
            rule = ph.rule
            lit = next((spelling[v] for v in getattr(rule, "values", ()) if v in spelling), None)
            pos = max(src.find(lit), src.find(lit.upper().replace(b"0X", b"0x"))) if lit else 0
            pos = max(pos, 0)
            n = getattr(ph, "hits", None) or getattr(ph, "count", None)
            msg = f"{rule.description} ({name}" + (f", {n} constants" if n else "") + " in JS numbers/byte arrays)"
            out.findings.append(finding(rule, EvidenceKind.js, loc.location(pos), message=msg,
                                        excerpt=src[pos:pos + 80] if pos else None))
        present = set(hits)
        for rule in self._primitive_rules:
            if not set(rule.primitives_all) <= present:
                continue
            if rule.primitives_any and len(present & set(rule.primitives_any)) < max(1, rule.primitives_min):
                continue
            out.findings.append(finding(
                rule, EvidenceKind.js, loc.location(0),
                message=f"{rule.description} (as JavaScript constants, e.g. an asm.js build: "
                        f"{', '.join(sorted(present))})"))

    # --- embedded Wasm -----------------------------------------------------------------------

    def _embedded_wasm(self, src: bytes, scan: _Scan, out: Analysis, loc: "_Locator") -> None:
        if self.wasm is None:
            return
        for mod in find_embedded_wasm(src, scan.decoded):
            line = loc.row_col(mod.start)[0] + 1 + loc.line_offset
            ctx = f"Wasm decoded from {mod.how} at line {line}"
            if loc.context:
                ctx = f"{loc.context}; {ctx}"
            try:
                sub = self.wasm.analyse(mod.data, loc.target, context=ctx)
            except Exception as e:  # noqa: BLE001
                out.notes.append(f"{ctx}: Wasm analysis failed ({type(e).__name__}: {e})")
                continue
            out.extend(sub)
            if sub.fatal:
                out.notes.append(f"{ctx}: {sub.fatal}")

    # --- rule and protocol findings ----------------------------------------------------------

    def _rule_findings(self, scan: _Scan, out: Analysis, loc: "_Locator") -> None:
        matched: dict[str, list[_Hit]] = {rid: hits for rid, hits in scan.rule_hits.items() if hits}
        tokens = scan.token_first
        if not matched and not tokens and not self._token_rules_unconditional:
            return  # most small scripts: nothing can match, skip the per-rule loop
        for rule, all_, any_, min_any in self._token_rules:
            if not all_ <= tokens.keys():
                continue
            present_any = [t for t in any_ if t in tokens]
            if any_ and len(present_any) < min_any:
                continue
            used = [t for t in (*sorted(all_), *sorted(present_any))]
            hits = sorted((tokens[t] for t in used), key=lambda h: h.start)
            matched[rule.id] = [hits[0]] if hits else []
            matched[rule.id + "\0tokens"] = used  # type: ignore[assignment]
        # `requires`: drop rules whose prerequisites did not match, until nothing changes
        alive = {rid for rid in matched if "\0" not in rid}
        changed = True
        while changed:
            changed = False
            for rid in list(alive):
                if any(req not in alive for req in self.rules[rid].requires):
                    alive.discard(rid)
                    changed = True
        for rid in sorted(alive):
            rule = self.rules[rid]
            used = matched.get(rid + "\0tokens")
            for h in matched[rid][:MAX_FINDINGS_PER_RULE]:
                msg = rule.description
                if used:
                    msg += f" (tokens: {', '.join(used[:8])})"
                out.findings.append(finding(rule, EvidenceKind.js, loc.location(h.start, h.context),
                                            message=msg, excerpt=h.text[:EXCERPT_BYTES]))

    def _protocol_findings(self, src: bytes, scan: _Scan, out: Analysis, loc: "_Locator") -> None:
        """Pool messages built as object literals are strong evidence; a message whose words
        all occur together in one stretch of a script is weak (`WORDS_CATEGORY`), and words
        spread further apart than WORDS_WINDOW are none: a wallet's 3 MB bundle has `login`,
        `pass`, `agent`, `handshake`, `pool` and `password` for reasons of its own, hundreds of
        kilobytes apart, where a message assembled field by field keeps them within lines.
        A session (login + submit) is strong only when its messages were built as literals."""
        if self.protocol is None:
            return
        if not scan.protocol_objects and not scan.token_first and not self._protocol_unconditional:
            return  # no message built and no vocabulary word: no protocol rule can match
        built: set[str] = set()
        for shape, h in scan.protocol_objects:
            for rule in self.protocol.match_message(shape):
                if rule.id in built or rule.all_of:
                    continue
                built.add(rule.id)
                out.findings.append(finding(
                    rule, EvidenceKind.protocol, loc.location(h.start, h.context),
                    message=f"{rule.description} ({rule.protocol} {rule.message} message built as an "
                            "object literal)", excerpt=h.text[:EXCERPT_BYTES]))
        worded: set[str] = set()
        toks = set(scan.token_first)
        for rule in self.protocol.match_tokens(toks, strings=scan.in_strings):
            if rule.id in built or rule.all_of:
                continue
            keys, values = self.protocol.tokens_of(rule)
            if not _words_together(src, sorted(values) + sorted(keys - values), WORDS_WINDOW):
                continue
            worded.add(rule.id)
            anchor = sorted(values or keys) or sorted(toks)
            h = min((scan.token_first[t] for t in anchor if t in scan.token_first), key=lambda x: x.start)
            out.findings.append(finding(
                rule, EvidenceKind.protocol, loc.location(h.start, h.context), category=WORDS_CATEGORY,
                message=f"The words of a {rule.protocol} {rule.message} message all occur in this "
                        f"script, though not built as one object: {rule.description}",
                excerpt=h.text[:EXCERPT_BYTES]))
        firsts = {f.rule: f for f in out.findings if f.kind is EvidenceKind.protocol}
        for rule in self.protocol.sessions(built | worded):
            parts = [firsts[r] for r in rule.all_of if r in firsts]
            anchor = min(parts, key=lambda f: (f.location.line or 0, f.location.column or 0))
            strong = set(rule.all_of) <= built
            out.findings.append(finding(
                rule, EvidenceKind.protocol, anchor.location,
                category=None if strong else WORDS_CATEGORY,
                message=f"{rule.description} (this script builds: "
                        f"{', '.join(p.rule for p in parts)}"
                        f"{'' if strong else '; some only as scattered words'})",
                excerpt=anchor.excerpt))

    # --- decoded payloads --------------------------------------------------------------------

    def _payloads(self, scan: _Scan, out: Analysis, loc: "_Locator", target: str, depth: int,
                  budget: list[int]) -> None:
        """Analyse the decoded payloads again, each distinct one once, within the file's
        decoded-bytes budget. Up to MAX_SEPARATE_PAYLOADS are analysed one by one; past that,
        the small ones are analysed joined in batches (see _payload_batches), so a script of
        thousands of `eval(atob(...))` costs a few analyses, not one per call site."""
        payloads = scan.packer_payloads
        if not payloads:
            return
        if depth >= MAX_PAYLOAD_DEPTH:
            out.notes.append(f"{target}: decoded payloads nested deeper than {MAX_PAYLOAD_DEPTH} "
                             "levels were not analysed")
            return
        seen: set[int] = set()
        todo: list[tuple[deob.Decoded, bytes]] = []
        for d in payloads:
            check_budget()
            data = d.text.encode("utf-8", "replace")
            h = hash(data)
            if h in seen or not data.strip():
                continue
            seen.add(h)
            if budget[0] + len(data) > MAX_PAYLOAD_TOTAL:
                out.notes.append(f"{target}: decoded payloads over {MAX_PAYLOAD_TOTAL >> 20} MB were not analysed")
                break
            budget[0] += len(data)
            todo.append((d, data))
        alone, batches = self._payload_batches(todo)
        for d, data in alone:
            self._payload(d, data, out, loc, target, depth, budget)
        for parts, clean in batches:
            self._payload_batch(parts, clean, out, loc, target, depth, budget)

    def _payload_batches(self, todo: list[tuple[deob.Decoded, bytes]]
                         ) -> tuple[list[tuple[deob.Decoded, bytes]],
                                    list[tuple[list[tuple[deob.Decoded, bytes]], bool]]]:
        """Which payloads are analysed alone, and the batches the others are joined into
        (each with whether all its parts parse cleanly).

        Why joining is sound: a payload that parses cleanly is a complete program, and
        complete programs joined by `;` on lines of their own are parsed as those same
        programs one after the other; every observation is local to a part, and the top-level
        code of several evals shares one global scope when it runs anyway. Each batch is
        checked with one parse of the joined text (_joins_cleanly), not one per part. Only
        when that fails are its parts parsed one by one: a payload that does not parse could
        swallow the next one (an unclosed comment or template), so those are analysed alone
        up to the cap, then joined only among themselves (`eval` refuses to run them, but
        their text is still searched). Rewrites of the source and big payloads are always
        analysed alone."""
        if len(todo) <= MAX_SEPARATE_PAYLOADS:
            return todo, []
        alone = [p for p in todo if p[0].origin is not None or len(p[1]) > MAX_BATCH_PART]
        small = [p for p in todo if p[0].origin is None and len(p[1]) <= MAX_BATCH_PART]
        batches: list[tuple[list[tuple[deob.Decoded, bytes]], bool]] = []
        clean: list[tuple[deob.Decoded, bytes]] = []
        broken: list[tuple[deob.Decoded, bytes]] = []
        for group in _batched(small):
            check_budget()
            if self._joins_cleanly(group):  # the usual case: one parse checks the whole batch
                batches.append((group, True))
                continue
            for part in group:  # something in it does not parse or crosses: find it, part by part
                if self.parses_cleanly(part[1]):
                    clean.append(part)
                elif len(alone) < MAX_SEPARATE_PAYLOADS:
                    alone.append(part)
                else:
                    broken.append(part)
        batches += [(g, True) for g in _batched(clean)] + [(g, False) for g in _batched(broken)]
        return alone, batches

    def _joins_cleanly(self, parts: list[tuple[deob.Decoded, bytes]]) -> bool:
        """Whether the parts joined parse with no error and no top-level statement or comment
        crossing from one part into the next: then each part is read as on its own (one parse
        of the batch instead of one per part, whose fixed cost dominates a small payload)."""
        ends: list[int] = []  # end of each part with its separator, in the joined text
        at = 0
        for _, data in parts:
            at += len(data) + len(PAYLOAD_SEPARATOR)
            ends.append(at)
        root = self._parser.parse(PAYLOAD_SEPARATOR.join(data for _, data in parts)).root_node
        if root.has_error:
            return False
        for c in root.children:
            if bisect_right(ends, c.start_byte) != bisect_right(ends, c.end_byte - 1):
                return False
        return True

    def _payload_context(self, d: deob.Decoded, loc: "_Locator") -> str:
        row, _ = loc.row_col(d.start)
        ctx = f"JavaScript decoded from {d.how} at line {row + 1 + loc.line_offset}"
        if loc.context:
            ctx = f"{loc.context}; {ctx}"
        if d.origin is not None:  # a rewrite of this very source: same place, same lines
            ctx = f"{loc.context}; {d.how}" if loc.context else d.how
        return ctx

    def _payload(self, d: deob.Decoded, data: bytes, out: Analysis, loc: "_Locator", target: str,
                 depth: int, budget: list[int]) -> None:
        """One payload analysed on its own, its findings pointed at the packer in this source."""
        ctx = self._payload_context(d, loc)
        sub = self._analyse(data, target, 0, 0, ctx, depth + 1, budget, rewrite=d.origin is None)
        starts = _line_starts(data) if d.origin is not None else None
        have = {(f.rule, f.location.line, f.location.column) for f in out.findings}
        # point every finding at the packer in the original file; keep the inner place
        for f in sub.findings:
            inner = f.location
            if inner.wasm_function is None and inner.wasm_offset is None and inner.line is not None:
                if starts is not None and d.origin is not None:
                    b = _offset_of(data, starts, inner.line, inner.column or 1)
                    f.location = loc.location(strarray.map_back(d.origin, b), ctx)
                    if (f.rule, f.location.line, f.location.column) in have:
                        f.rule = ""  # the original already has it: drop below
                else:
                    f.location = loc.location(d.start, f"{ctx} (payload line {inner.line}, "
                                                       f"column {inner.column})")
        sub.findings = [f for f in sub.findings if f.rule]
        out.extend(sub)
        if sub.fatal:
            out.notes.append(f"{ctx}: {sub.fatal}")

    def _payload_batch(self, parts: list[tuple[deob.Decoded, bytes]], clean: bool, out: Analysis,
                       loc: "_Locator", target: str, depth: int, budget: list[int]) -> None:
        """Small payloads analysed as one script; each finding points at the packer of the part
        it lies in, with its line inside that part, as if the part had been analysed alone."""
        firsts: list[int] = []  # 1-based line of each part in the batch
        line = 1
        for _, data in parts:
            firsts.append(line)
            line += data.count(b"\n") + PAYLOAD_SEPARATOR.count(b"\n")
        what = f"{len(parts):,} decoded payloads analysed joined"
        batch_ctx = f"{loc.context}; {what}" if loc.context else what
        sub = self._analyse(PAYLOAD_SEPARATOR.join(data for _, data in parts), target, 0, 0,
                            batch_ctx, depth + 1, budget)
        for f in sub.findings:
            inner = f.location
            if inner.wasm_function is None and inner.wasm_offset is None and inner.line is not None:
                i = max(0, bisect_right(firsts, inner.line) - 1)
                d = parts[i][0]
                f.location = loc.location(d.start, f"{self._payload_context(d, loc)} (payload line "
                                                    f"{inner.line - firsts[i] + 1}, column {inner.column})")
        out.extend(sub)
        if sub.fatal:
            out.notes.append(f"{batch_ctx}: {sub.fatal}")
        if not clean:
            out.notes.append(f"{target}: {what} although they do not parse (past the first "
                             f"{MAX_SEPARATE_PAYLOADS} analysed alone): a construct left open in "
                             "one may hide the next from structure rules; their text was searched")

    # --- parse errors ------------------------------------------------------------------------

    def _parse_finding(self, root: Node, src: bytes, loc: "_Locator") -> Finding:
        node = _first_error(root)
        start = node.start_byte if node is not None else 0
        kind = "missing " + node.type if node is not None and node.is_missing else "unexpected input"
        return _engine_finding(
            "js.parse.syntax-error", "parse", Severity.low,
            f"JavaScript does not parse ({kind}); the rest was still analysed. Truncated, "
            "non-standard or deliberately broken code hides from parsers: check the file",
            loc.location(start), excerpt=src[start:start + 80])


# --- helpers ---------------------------------------------------------------------------------


class _Locator:
    """Byte offsets to 1-based line/column in the ORIGINAL file (columns in characters)."""

    def __init__(self, src: bytes, target: str, line_offset: int, column_offset: int,
                 context: str | None):
        self.src = src
        self.target = target
        self.line_offset = line_offset
        self.column_offset = column_offset
        self.context = context

    _starts: list[int] | None = None

    def _row(self, b: int) -> tuple[int, int]:
        """Row and line start of byte `b`, by bisection in the line starts (built once, on
        first use): a count of newlines per call would make many findings quadratic."""
        if self._starts is None:
            self._starts = _line_starts(self.src)
        row = bisect_right(self._starts, b) - 1
        return row, self._starts[row]

    def row_col(self, b: int) -> tuple[int, int]:
        b = max(0, min(b, len(self.src)))
        row, ls = self._row(b)
        return row, b - ls

    def location(self, b: int, extra: str | None = None) -> Location:
        b = max(0, min(b, len(self.src)))
        row, ls = self._row(b)
        seg = self.src[ls:b]
        col = len(seg.decode("utf-8", "replace")) if not seg.isascii() else len(seg)
        if row == 0:
            col += self.column_offset
        ctx = self.context
        if extra:
            ctx = f"{ctx}; {extra}" if ctx else extra
        return Location(target=self.target, line=row + 1 + self.line_offset, column=col + 1, context=ctx)


_MARKUP_SINKS = frozenset(("write", "writeln", "insertAdjacentHTML", "append", "prepend", "html",
                           "after", "before", "appendTo", "prependTo", "replaceWith"))
"""Calls that put markup into the page (the DOM's and jQuery's)."""
_MARKUP_PROPERTIES = frozenset(("innerHTML", "outerHTML"))
_TAG_WITH_SOURCE = re.compile(rb"(?i)<\s*(?:script|iframe|embed|object)\b[^>]{0,512}?\b(?:src|data)\s*=")
"""Markup that loads what it names: a script, frame or object with a source."""
MAX_DEFINITIONS_LOOKED_AT = 4
MAX_LOADER_LOOKUPS = 16
_LITERALS = frozenset(("string", "template_string"))
_CHAIN_LEFT = frozenset(("string", "template_string", "binary_expression"))
QUERY_WINDOW_BYTES = 256 * 1024
"""Bytes of source per window of a whole-tree query pass (see _windowed_matches)."""
RANGE_COST_NODES = 64
"""What one trigger range costs the query engine, in nodes of a whole-tree pass (a descent
from the root and the range's ancestors): more ranges than nodes / this, one pass is cheaper."""
RANGE_MERGE_GAP = 2048
"""Trigger ranges closer than this many bytes are queried as one span. A range's descent walks
the siblings before it at every level, and a minified bundle's levels are wide: 1,194 ranges of
a 4.8 MB bundle cost more than parsing it, the same ranges joined into 274 spans a fifth."""


def _words_together(src: bytes, words: list[str], window: int) -> bool:
    """Whether every word occurs, as a whole name, within `window` bytes of one occurrence of
    the first (at most MAX_WORD_ANCHORS of those are tried). A word missing from the raw text
    (seen only in a decoded string) leaves the answer to the caller's token match: True."""
    pats = [re.compile(rb"(?<![\w$])" + re.escape(w.encode("utf-8")) + rb"(?![\w$])") for w in words]
    if not pats or any(p.search(src) is None for p in pats):
        return True
    for k, m in enumerate(pats[0].finditer(src)):
        if k >= MAX_WORD_ANCHORS:
            return False
        lo, hi = max(0, m.start() - window), m.end() + window
        if all(p.search(src, lo, hi) is not None for p in pats[1:]):
            return True
    return False


def _spans_near(ranges: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Sorted disjoint ranges joined where fewer than `gap` bytes part them."""
    out: list[tuple[int, int]] = []
    for s, e in ranges:
        if out and s - out[-1][1] < gap:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _touches(caps: dict, ranges: list[tuple[int, int]], starts: list[int]) -> bool:
    """Whether a captured node of a match meets one of the sorted disjoint `ranges` (every
    anchored pattern captures the node its trigger word is in, so its own matches do)."""
    for nodes in caps.values():
        for n in nodes:
            i = bisect_left(starts, n.end_byte) - 1  # the last range starting before the node ends
            if i >= 0 and ranges[i][1] > n.start_byte:
                return True
    return False


def _is_utf8(src: bytes) -> bool:
    if src.isascii():
        return True
    try:
        src.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _any_of(patterns: list[bytes]) -> re.Pattern[bytes] | None:
    """One regex that matches wherever any of `patterns` does (a superset test, used only to
    say "none occurs"), or None when they cannot be joined (a pattern with global flags)."""
    if not patterns:
        return None
    try:
        return re.compile(b"|".join(b"(?:%s)" % p for p in patterns))
    except re.error:
        return None


def _batched(parts: list[tuple[deob.Decoded, bytes]]) -> list[list[tuple[deob.Decoded, bytes]]]:
    """Consecutive payloads grouped up to PAYLOAD_BATCH_BYTES each (joined with separators)."""
    out: list[list[tuple[deob.Decoded, bytes]]] = []
    size = 0
    for part in parts:
        if not out or (out[-1] and size + len(part[1]) > PAYLOAD_BATCH_BYTES):
            out.append([])
            size = 0
        out[-1].append(part)
        size += len(part[1]) + len(PAYLOAD_SEPARATOR)
    return out


def _windowed_matches(cursor: QueryCursor, root: Node, size: int) -> Iterator[tuple[int, dict]]:
    """A whole-tree query pass, run over windows of QUERY_WINDOW_BYTES in turn.

    Why: the binding hands over all matches of a pass at once, each a tuple, a dict, lists
    and node objects; for a script of 100,000 call sites that is a million live objects, and
    every full garbage collection meanwhile walks them all (a third of the time of such a
    scan). A window's matches are released before the next window is queried. A match can be
    met in every window its pattern's root reaches into: it is given in the window where its
    captures start, or in the first window that meets it if that comes before."""
    if size <= QUERY_WINDOW_BYTES:
        yield from cursor.matches(root)
        return
    crossing: set[tuple[int, int, int]] = set()
    for s in range(0, size, QUERY_WINDOW_BYTES):
        e = min(size, s + QUERY_WINDOW_BYTES)
        cursor.set_byte_range(s, e)
        matches = cursor.matches(root)
        for idx, caps in matches:
            lo, hi = size, 0
            for nodes in caps.values():
                for node in nodes:
                    lo, hi = min(lo, node.start_byte), max(hi, node.end_byte)
            if lo < s:
                continue  # given in the window where its captures start, or before
            key = (idx, lo, hi)
            if key in crossing:
                continue
            if lo >= e:  # met early (its pattern's root starts here): given now, not again
                crossing.add(key)
            yield idx, caps
        del matches
    cursor.set_byte_range(0, size)


def _cursor(query: Query) -> QueryCursor:
    cursor = QueryCursor(query, match_limit=MAX_QUERY_STATES)
    cursor.set_max_start_depth(MAX_QUERY_DEPTH)
    return cursor


class _DeepZones:
    """Byte ranges of the subtrees that start deeper than MAX_QUERY_DEPTH, found by a survey
    that expands only nodes whose subtree is big enough to reach that depth (a subtree of k
    nodes is at most k levels high): cheap on real code, bounded on any tree.

    Tree look-ups at a byte position cost O(depth); inside a deep zone they are refused
    (`node_at` gives None) and callers fall back to their text-only path.
    """

    def __init__(self, zones: list[tuple[int, int]]) -> None:
        zones.sort()
        merged: list[tuple[int, int]] = []
        for s, e in zones:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
            else:
                merged.append((s, e))
        self.zones = merged
        self._starts = [s for s, _ in merged]
        self.size = sum(e - s for s, e in merged)

    @classmethod
    def survey(cls, root: Node, limit: int = MAX_QUERY_DEPTH) -> "_DeepZones":
        """One depth-first walk with a tree cursor (O(1) per step, no child lists built),
        going down only into nodes whose subtree could reach `limit`."""
        zones: list[tuple[int, int]] = []
        cur = root.walk()
        depth = expanded = 0
        while True:
            node = cur.node
            down = False
            if node is not None and depth + node.descendant_count > limit:
                if depth >= limit or expanded >= MAX_SURVEY_EXPANDED:
                    zones.append((node.start_byte, node.end_byte))
                else:
                    expanded += 1
                    down = True
            if down and cur.goto_first_child():
                depth += 1
                continue
            while not cur.goto_next_sibling():
                if depth == 0 or not cur.goto_parent():
                    return cls(zones)
                depth -= 1

    def contains(self, pos: int) -> bool:
        if not self.zones:
            return False
        k = bisect_right(self._starts, pos) - 1
        return k >= 0 and pos < self.zones[k][1]

    def node_at(self, root: Node | None, start: int, end: int) -> Node | None:
        if root is None or self.contains(start):
            return None
        return root.descendant_for_byte_range(start, end)


def _line_starts(data: bytes) -> list[int]:
    starts = [0]
    pos = data.find(b"\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = data.find(b"\n", pos + 1)
    return starts


def _offset_of(data: bytes, starts: list[int], line: int, column: int) -> int:
    """Byte offset of a 1-based line and character column inside `data`."""
    ls = starts[min(max(line - 1, 0), len(starts) - 1)]
    le = starts[line] if line < len(starts) else len(data)
    seg = data[ls:le]
    if seg.isascii():
        return ls + column - 1
    return ls + len(seg.decode("utf-8", "replace")[:column - 1].encode("utf-8", "replace"))


def _feature_test(node: Node) -> bool:
    """Whether a name is only probed (`typeof x.startMining === 'function'`): anti-miners and
    feature checks name a kit's internals that way, which is not using them."""
    up = node.parent
    hops = 0
    while up is not None and up.type == "member_expression" and hops < 4:
        node, up, hops = up, up.parent, hops + 1
    return (hops > 0 and up is not None and up.type == "unary_expression"
            and up.child(0) is not None and up.child(0).type == "typeof")


def _hit_of(node: Node, src: bytes) -> _Hit:
    return _Hit(node.start_byte, node.end_byte, node.start_point[0], node.start_point[1],
                src[node.start_byte:min(node.end_byte, node.start_byte + EXCERPT_BYTES)])


def _engine_finding(rule_id: str, category: str, severity: Severity, message: str, location: Location,
                    excerpt: bytes | None = None) -> Finding:
    """Findings the engine itself makes (parse errors, de-obfuscation), not a signature rule."""
    return Finding(rule=rule_id, kind=EvidenceKind.parse if category == "parse" else EvidenceKind.js,
                   category=category, severity=severity, message=message, location=location,
                   excerpt=excerpt_of(excerpt))


def _first_error(root: Node) -> Node | None:
    """The first ERROR or MISSING node, descending only into subtrees that contain one."""
    node = root
    for _ in range(10_000_000):
        if node.is_error or node.is_missing:
            return node
        nxt = None
        for c in node.children:
            if c.has_error or c.is_missing or c.is_error:
                nxt = c
                break
        if nxt is None:
            return node
        node = nxt
    return node


def _object_shape(obj: Node) -> dict:
    """An object literal as a dict: string/number/bool literals kept, other values as markers.

    Iterative and bounded; nested objects become dicts, anything computed becomes an opaque
    marker that matches "*" in a protocol shape but never a fixed value.
    """
    out: dict = {}
    stack: list[tuple[Node, dict, int]] = [(obj, out, 0)]
    while stack:
        node, target, d = stack.pop()
        for pair in node.named_children[:64]:
            if pair.type == "shorthand_property_identifier":
                target[pair.text.decode("utf-8", "replace")] = _Opaque()
                continue
            if pair.type != "pair":
                continue
            k = pair.child_by_field_name("key")
            v = pair.child_by_field_name("value")
            if k is None or v is None:
                continue
            key = deob.literal_text(k) if k.type == "string" else k.text.decode("utf-8", "replace")
            if key is None:
                continue
            if v.type == "object" and d < 4:
                sub: dict = {}
                target[key] = sub
                stack.append((v, sub, d + 1))
                continue
            lit = deob.literal_text(v)
            if lit is not None:
                target[key] = lit
            elif v.type == "number":
                try:
                    target[key] = int(v.text, 0)
                except ValueError:
                    target[key] = _Opaque()
            elif v.type in ("true", "false"):
                target[key] = v.type == "true"
            elif v.type == "array":
                target[key] = [_Opaque()]
            else:
                target[key] = _Opaque()
    return out


_assignments_in = js_objects.assignments_in


def _assembled_shape(name: str, block: Node, depth: int) -> dict:
    """The object a block builds under `name` by `name = {...}` then `name.key = value`.

    Only the statements of that one block are read (bounded); a value that is another
    object assembled the same way is nested (two levels), anything else is opaque.
    """
    shape: dict = {}
    for node in _assignments_in(block):
        if node.type == "variable_declarator":
            n, v = node.child_by_field_name("name"), node.child_by_field_name("value")
            if n is not None and v is not None and n.text.decode("utf-8", "replace") == name \
                    and v.type == "object":
                shape.update(_object_shape(v))
            continue
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None or left.type != "member_expression":
            continue
        obj, prop = left.child_by_field_name("object"), left.child_by_field_name("property")
        if obj is None or prop is None or obj.type != "identifier" or obj.text.decode("utf-8", "replace") != name:
            continue
        key = prop.text.decode("utf-8", "replace")
        lit = deob.literal_text(right)
        if lit is not None:
            shape[key] = lit
        elif right.type == "number":
            try:
                shape[key] = int(right.text, 0)
            except ValueError:
                shape[key] = _Opaque()
        elif right.type == "object":
            shape[key] = _object_shape(right)
        elif right.type == "identifier" and depth < 2:
            sub = _assembled_shape(right.text.decode("utf-8", "replace"), block, depth + 1)
            shape[key] = sub if sub else _Opaque()
        else:
            shape[key] = _Opaque()
    return shape


class _Opaque:
    """A value only known at run time: present, but equal to no literal."""

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__


_HEXNUM = re.compile(rb"0[xX]([0-9A-Fa-f]{5,16})(?![\w$])")
# decimal literals of 6+ digits: digits are mapped to "0" and the rest to " " first, so the
# search has a literal prefix and runs in C instead of trying every digit position
_DIGITS_ONLY = bytes(0x30 if 0x30 <= c <= 0x39 else 0x20 for c in range(256))
_DIGIT_RUN = re.compile(rb"000000+")
_NUM_ARRAY = re.compile(rb"\[(?:\s*+(?:0[xX][0-9A-Fa-f]{1,2}|\d{1,3})\s*+,){15,}+\s*+(?:0[xX][0-9A-Fa-f]{1,2}|\d{1,3})?\s*+\]")
_SMALL = re.compile(rb"0[xX][0-9A-Fa-f]{1,2}|\d{1,3}")
MAX_CONST_VALUES = 200_000
MAX_CONST_BYTES = 8 * 1024 * 1024


def _numeric_literals(src: bytes) -> tuple[set[int], dict[int, bytes]]:
    """Integer literals big enough to be hash constants, with one spelling of each.

    Negative decimals (asm.js writes uint32 constants as int32) are also given as unsigned.
    Distinct spellings are collected in C (findall); only the few that hit are located later.
    """
    ints: set[int] = set()
    spelling: dict[int, bytes] = {}
    decimals: set[bytes] = set()
    n = len(src)
    for m in _DIGIT_RUN.finditer(src.translate(_DIGITS_ONLY)):
        s0, e0 = m.span()
        if e0 - s0 > 20 or (e0 < n and src[e0] in _IDENT_BYTES) or (e0 < n and src[e0] == 0x2E):
            continue
        if s0 and src[s0 - 1] in _IDENT_BYTES:
            continue
        decimals.add(src[s0 - 1:e0] if s0 and src[s0 - 1] == 0x2D else src[s0:e0])
    for found, base, prefix in ((set(_HEXNUM.findall(src)), 16, b"0x"), (decimals, 10, b"")):
        for lit in found:
            try:
                v = int(lit, base)
            except ValueError:
                continue
            for val in ((v, v & 0xFFFFFFFF) if v < 0 else (v,)):
                if val not in spelling:
                    spelling[val] = prefix + lit
                    ints.add(val)
            if len(ints) > MAX_CONST_VALUES:
                return ints, spelling
    return ints, spelling


def _byte_arrays(src: bytes) -> bytes:
    """Numeric arrays of bytes (S-boxes, inlined data), concatenated, bounded."""
    parts: list[bytes] = []
    total = 0
    for m in _NUM_ARRAY.finditer(src):
        vals = [small_int(t) for t in _SMALL.findall(m.group(0))]
        if all(v < 256 for v in vals):
            b = bytes(vals)
            parts.append(b)
            total += len(b)
            if total > MAX_CONST_BYTES:
                break
    return b"".join(parts)


_NOT_CONTROL = bytes(c for c in range(256) if c not in (*range(1, 9), 11, 12, *range(14, 32), 127))


_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _valid_utf8(src: bytes) -> bytes:
    """`src` with each byte that is not UTF-8 turned into `?`, so lengths and offsets hold.

    tree-sitter's query predicates decode captured text as strict UTF-8 and raise on one stray
    byte in a string literal (binary data in strings, a Latin-1 file), which cost the whole
    file an internal error; the raw `src` stays what every other pass reads.
    """
    if src.isascii():
        return src
    try:
        src.decode("utf-8")
        return src
    except UnicodeDecodeError:
        text = src.decode("utf-8", "surrogateescape")  # one U+DC80-U+DCFF per stray byte
        return _UNDECODABLE.sub("?", text).encode("utf-8")


def _not_text(src: bytes) -> str | None:
    """Why these bytes are not a script (binary junk), or None when they may be one."""
    sample = src[:65536]
    if sample.startswith(b"\0asm"):
        return "this is a WebAssembly module (starts with \\0asm); scan it as .wasm"
    nul = sample.count(b"\0")
    if nul > max(8, len(sample) // 100):
        return f"{nul} NUL bytes in the first {len(sample)} bytes; the file is binary"
    ctrl = len(sample.translate(None, _NOT_CONTROL))  # one pass in C, not one count per byte value
    if ctrl > max(16, len(sample) // 20):
        return f"{ctrl} control bytes in the first {len(sample)} bytes; the file is binary"
    bad = sample.decode("utf-8", "replace").count("\ufffd") - sample.decode("utf-8", "ignore").count("\ufffd")
    if not sample.isascii() and bad > max(64, len(sample) // 4):
        return f"{bad} invalid UTF-8 sequences in the first {len(sample)} bytes; the file is binary"
    return None
