"""Match URLs, hosts and free text against the mining-service domain rules.

Rules are compiled once (uBlock-style): every rule host goes into one dict keyed by host, and a
host is looked up suffix by suffix from the right, so `coinhive.com` matches itself and every
subdomain in a handful of dict probes. All `url_patterns` are joined into ONE regex used as a
prefilter; only the rare input that passes it is re-checked rule by rule to name every rule
that matched. The hot path (`find_in_text` over multi-MB scripts) runs one token regex whose
host branch only accepts the top-level domains that occur in the rules, so the `a.b.c`
property chains of minified code are rejected inside the regex engine rather than in Python.
"""

from __future__ import annotations

import bisect
import re
from typing import Iterable, NamedTuple

from webscan.rules.schema import DomainRule

MAX_URL = 4096
"""Longest URL token considered; longer runs are data blobs, not addresses."""

_LONG_LOWER = re.compile("([" + "".join(
    chr(c) for c in range(0x80, 0x10000) if len(chr(c).lower()) != 1) + "])")
"""Characters whose lower case is longer than they are (U+0130 in today's Unicode)."""


class DomainHit(NamedTuple):
    rule: DomainRule
    host: str | None
    """The host that matched a rule domain, or the URL's host (if any) for a pattern hit."""
    url: str


_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")
_BACKREF = re.compile(r"\\[1-9]|\(\?P=")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_HOST_CHARS = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_PORT_AFTER_HOST = re.compile(r"^\d{1,5}(?:[/?#]|$)")


def normalise_host(host: str) -> str | None:
    """Lower-case, IDNA (punycode) form of a host, without port, userinfo, brackets or trailing dot.

    Returns None for something that cannot be a host, so callers never have to catch.
    """
    if not host:
        return None
    host = host.strip()
    if "@" in host:
        host = host.rsplit("@", 1)[1]
    if host.startswith("["):  # IPv6 literal, maybe with a port
        end = host.find("]")
        return host[1:end].lower() if end > 1 else None
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    elif host.count(":") > 1:  # bare IPv6 address
        return host.lower()
    host = host.rstrip(".").lower()
    if not host or len(host) > 253:
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            # IDNA2003 rejects some labels browsers accept; fall back label by label.
            try:
                host = ".".join(
                    lab if lab.isascii() else "xn--" + lab.encode("punycode").decode("ascii")
                    for lab in host.split(".")
                )
            except UnicodeError:
                return None
    return host if _HOST_CHARS.fullmatch(host) else None


def host_of(url: str) -> str | None:
    """The normalised host of an absolute, protocol-relative or bare-host URL (None if relative)."""
    if not isinstance(url, str):
        return None
    u = url.strip().replace("\\", "/")
    m = _SCHEME.match(u)
    with_port = False
    if m:
        scheme = m.group(1).lower()
        rest = u[m.end():]
        if _PORT_AFTER_HOST.match(rest):  # `host:8080/x` is a bare host with a port, not a scheme
            with_port = True
        elif not rest.startswith("//"):
            # data:, javascript:, blob:https://host/..., mailto: ...
            if scheme == "blob":
                return host_of(rest)
            return None
        else:
            u = rest
    if u.startswith("//"):
        authority = re.split(r"[/?#]", u[2:], maxsplit=1)[0]
        return normalise_host(authority)
    if u.startswith(("/", ".", "?", "#")):
        return None
    first = re.split(r"[/?#]", u, maxsplit=1)[0]
    if "." not in first.strip(".") and not with_port:
        return None
    return normalise_host(first)


class DomainMatcher:
    """All domain rules, compiled once, matched against URLs or arbitrary text."""

    def __init__(self, rules: Iterable[DomainRule]):
        self.rules: list[DomainRule] = list(rules)
        self._hosts: dict[str, list[DomainRule]] = {}  # host -> rules (host and subdomains)
        self._subs_only: dict[str, list[DomainRule]] = {}  # `*.host` -> rules (subdomains only)
        globs: list[tuple[str, DomainRule]] = []
        tlds: set[str] = set()
        has_ip = False
        for rule in self.rules:
            for d in rule.domains:
                d = d.lower().rstrip(".")
                if d.startswith("*.") and "*" not in d[2:]:
                    self._subs_only.setdefault(d[2:], []).append(rule)
                    base = d[2:]
                elif "*" in d:
                    globs.append((d, rule))
                    base = d
                else:
                    self._hosts.setdefault(d, []).append(rule)
                    base = d
                if _IPV4.fullmatch(base):
                    has_ip = True
                else:
                    tlds.add(base.rsplit(".", 1)[-1])
        # other wildcards (`*coin.example`): `*` stands for any run of host characters
        self._globs: list[tuple[re.Pattern[str], DomainRule]] = [
            (re.compile("[a-z0-9.-]*".join(re.escape(p) for p in g.split("*"))), r) for g, r in globs
        ]
        # url patterns: one combined prefilter, per-rule regexes for naming every matching rule
        self._patterns: list[tuple[re.Pattern[str], DomainRule]] = []
        combinable: list[str] = []
        self._slow_patterns: list[tuple[re.Pattern[str], DomainRule]] = []
        for rule in self.rules:
            for p in rule.url_patterns:
                compiled = re.compile(p, re.IGNORECASE)
                self._patterns.append((compiled, rule))
                if _BACKREF.search(p):
                    self._slow_patterns.append((compiled, rule))
                    continue
                m = _GLOBAL_FLAGS.match(p)
                combinable.append(f"(?{m.group(1)}:{p[m.end():]})" if m else f"(?:{p})")
        self._combined: re.Pattern[str] | None = None
        if combinable:
            try:
                self._combined = re.compile("|".join(combinable), re.IGNORECASE)
            except re.error:
                self._slow_patterns = list(self._patterns)
        # find_in_text: fast passes over the lower-cased text (literal-led regexes), then dict
        # lookups. Python's re is quick only when a pattern starts with a literal, so hosts are
        # found by their top-level domain (`.com`) and expanded backwards in Python.
        self._url_rx = re.compile(r"//[^\s\"'`<>()\[\]{}\\,;|^]{1,%d}" % MAX_URL)
        self._host_rx: re.Pattern[str] | None = None
        if tlds:
            tld_alt = "|".join(sorted((re.escape(t) for t in tlds), key=len, reverse=True))
            self._host_rx = re.compile(r"\.(?:%s)(?![\w-])" % tld_alt)
        self._ip_rx = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])") if has_ip else None
        literals: set[str] = set()
        self._unanchored: list[re.Pattern[str]] = []  # patterns with no literal to look for
        for rx, _ in self._patterns:
            lits = _required_literals(rx.pattern)
            if lits:
                literals |= lits
            else:
                self._unanchored.append(rx)
        self._literal_rx = (re.compile("|".join(re.escape(x) for x in sorted(literals, key=len, reverse=True)))
                            if literals else None)

    # --- lookups --------------------------------------------------------------------------

    def rules_for_host(self, host: str | None) -> list[tuple[DomainRule, str]]:
        """Rules whose domain is `host` or one of its parents, with the rule domain that matched."""
        h = normalise_host(host) if host else None
        if not h:
            return []
        out: list[tuple[DomainRule, str]] = []
        seen: set[str] = set()
        labels = h.split(".")
        for i in range(len(labels)):
            suffix = ".".join(labels[i:])
            for rule in self._hosts.get(suffix, ()):
                if rule.id not in seen:
                    seen.add(rule.id)
                    out.append((rule, suffix))
            if i > 0:
                for rule in self._subs_only.get(suffix, ()):
                    if rule.id not in seen:
                        seen.add(rule.id)
                        out.append((rule, suffix))
        for rx, rule in self._globs:
            if rule.id not in seen and rx.fullmatch(h):
                seen.add(rule.id)
                out.append((rule, h))
        return out

    def _pattern_rules(self, url: str) -> list[DomainRule]:
        if not self._patterns:
            return []
        hit = bool(self._combined and self._combined.search(url))
        if not hit and not self._slow_patterns:
            return []
        candidates = self._patterns if hit else self._slow_patterns
        out, seen = [], set()
        for rx, rule in candidates:
            if rule.id not in seen and rx.search(url):
                seen.add(rule.id)
                out.append(rule)
        return out

    def match_url(self, url: str) -> list[DomainHit]:
        """Rules hit by one URL (absolute, `//host/x`, ws/wss, relative path, or a bare host).

        Never raises: anything that is not a usable URL simply matches nothing.
        """
        if not isinstance(url, str) or not url.strip():
            return []
        url = url.strip()[: MAX_URL * 4]
        try:
            host = host_of(url)
        except Exception:  # noqa: BLE001 - a malformed URL is just not a match
            host = None
        hits: list[DomainHit] = []
        seen: set[str] = set()
        for rule, _ in self.rules_for_host(host):
            seen.add(rule.id)
            hits.append(DomainHit(rule, host, url))
        for rule in self._pattern_rules(url):
            if rule.id not in seen:
                seen.add(rule.id)
                # `cryptonight.wasm` is a file name, not a host: name a host only for real URLs
                hits.append(DomainHit(rule, host if "//" in url else None, url))
        return hits

    def find_in_text(self, text: str) -> list[tuple[DomainHit, int, int]]:
        """Every rule hit in free text (a script, a string literal), with character offsets.

        URL tokens (`scheme://...`, `//...`) are matched as URLs (hosts and url patterns); bare
        host names as hosts; url patterns also outside URL tokens (relative kit paths), found
        through the literals each pattern requires. Never raises.
        """
        if not text or not isinstance(text, str):
            return []
        low = text.lower()
        if len(low) != len(text):  # a few Unicode characters change length when lower-cased:
            # kept as they are, the rest lowered a run at a time (not a character at a time)
            low = "".join(p if i % 2 else p.lower() for i, p in enumerate(_LONG_LOWER.split(text)))
        out: list[tuple[DomainHit, int, int]] = []
        url_spans: list[tuple[int, int]] = []
        for m in self._url_rx.finditer(low):
            start, end = m.span()
            # widen to the scheme (`wss:`), if any
            if start > 0 and low[start - 1] == ":":
                j = start - 1
                while j > 0 and j > start - 18 and (low[j - 1].isalnum() or low[j - 1] in "+.-"):
                    j -= 1
                if j < start - 1 and low[j].isalpha():
                    start = j
            token = text[start:end].rstrip(".:")
            end = start + len(token)
            url_spans.append((start, end))
            out.extend((h, start, end) for h in self.match_url(token))
        if self._host_rx is not None:
            for m in self._host_rx.finditer(low):
                end = m.end()
                if end < len(low) - 1 and low[end] == "." and (low[end + 1].isalnum() or low[end + 1] in "_-"):
                    continue  # `coinhive.com.example.org`: part of a longer host
                start = m.start()
                lo = max(0, start - 253)
                while start > lo and (low[start - 1].isalnum() or low[start - 1] in "_.-"):
                    start -= 1
                if start > 0 and low[start - 1] == "@":
                    continue  # an e-mail address names a mailbox, not a load
                if _inside(url_spans, m.start()):
                    continue
                token = text[start:end].lstrip(".-")
                start = end - len(token)
                host = normalise_host(token)
                out.extend((DomainHit(rule, host, token), start, end) for rule, _ in self.rules_for_host(host))
        if self._ip_rx is not None:
            for m in self._ip_rx.finditer(low):
                if not _inside(url_spans, m.start()):
                    out.extend((DomainHit(rule, m.group(), m.group()), m.start(), m.end())
                               for rule, _ in self.rules_for_host(m.group()))
        if self._patterns:
            out.extend(self._patterns_in_text(text, low, url_spans))
        out.sort(key=lambda t: t[1])
        return out

    def _patterns_in_text(self, text: str, low: str,
                          url_spans: list[tuple[int, int]]) -> list[tuple[DomainHit, int, int]]:
        spots: list[tuple[int, int]] = []
        if self._literal_rx is not None:
            spots += [m.span() for m in self._literal_rx.finditer(low)]
        for rx in self._unanchored:
            spots += [m.span() for m in rx.finditer(text)]
        out = []
        done: set[tuple[int, int]] = set()
        for s, e in spots:
            if _inside(url_spans, s):
                continue  # already matched as a whole URL
            ts, te = _token_bounds(text, s, e)
            if (ts, te) in done:
                continue
            done.add((ts, te))
            token = text[ts:te]
            for rule in self._pattern_rules(token):
                out.append((DomainHit(rule, host_of(token) if "//" in token else None, token), ts, te))
        return out


def _inside(spans: list[tuple[int, int]], pos: int) -> bool:
    """Whether pos falls in one of the sorted, non-overlapping spans."""
    i = bisect.bisect_right(spans, (pos, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _required_literals(pattern: str) -> set[str] | None:
    """Literals (lower-case) one of which every match of `pattern` must contain, or None.

    Lets find_in_text look for a few fixed strings with one fast regex instead of running every
    url pattern over the whole text. Built from the regex parser's tree; when a pattern has no
    literal of at least three characters it is run as it is.
    """
    try:
        from re import _constants as C, _parser  # type: ignore[attr-defined]

        tree = _parser.parse(pattern, re.IGNORECASE)
    except Exception:  # noqa: BLE001 - private API changed: fall back to the plain regex
        return None

    def req(items) -> set[str] | None:
        candidates: list[set[str]] = []
        run: list[str] = []
        for op, av in items:
            if op is C.LITERAL:
                run.append(chr(av).lower())
                continue
            if run:
                candidates.append({"".join(run)})
                run = []
            if op is C.SUBPATTERN:
                r = req(av[-1])
            elif op is C.BRANCH:
                subs = [req(alt) for alt in av[1]]
                r = set().union(*subs) if subs and all(subs) else None
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
                r = req(av[2])
            else:
                r = None
            if r:
                candidates.append(r)
        if run:
            candidates.append({"".join(run)})
        return max(candidates, key=lambda c: min(map(len, c)), default=None)

    try:
        best = req(tree.data)
    except Exception:  # noqa: BLE001
        return None
    return best if best and min(map(len, best)) >= 3 else None


_STOP = frozenset(" \t\r\n\"'`<>()[]{},;")


def _token_bounds(text: str, s: int, e: int) -> tuple[int, int]:
    """Widen a pattern match to the surrounding URL-ish token (bounded), so the hit names a URL."""
    lo = max(0, s - MAX_URL)
    while s > lo and text[s - 1] not in _STOP:
        s -= 1
    hi = min(len(text), e + MAX_URL)
    while e < hi and text[e] not in _STOP:
        e += 1
    return s, e
