"""Turn a public blocklist (Adblock/uBlock filters or a hosts file) into a webscan domains file.

Users trust different lists (NoCoin, CoinBlockerLists, their own); `webscan signatures import`
brings one in as ONE rule of `kind: domains`. Only rules that name a whole host are imported:
a rule with a path (`||cdn.example/npm/miner.js`) blocks one file, and importing its host would
flag every page using that CDN. Everything not imported is counted with a reason, so the user
sees what the list meant that webscan does not take over.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field

import yaml

from webscan.net.domains import normalise_host
from webscan.rules.schema import FORMAT_VERSION, RULE_ID, DomainRule

CATEGORY = "miner-domain-load"
EXAMPLES_PER_REASON = 3
_HOSTS_IPS = {"0.0.0.0", "127.0.0.1", "::1", "::", "0", "255.255.255.255", "::0", "fe80::1%lo0",
              "ff00::0", "ff02::1", "ff02::2"}
_NOT_HOSTS = {"localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost",
              "ip6-loopback", "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters",
              "0.0.0.0"}
_COSMETIC = re.compile(r"#[@?$%]?#|#@[$%?]#")
_HOST_OK = re.compile(r"(?:\*\.)?[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
_NO_MATCH_CANDIDATES = ("example.org", "example.net", "example.com", "webscan.invalid")


class BlocklistError(ValueError):
    """The list yields no importable host; the message says what was found instead."""


@dataclass
class ImportResult:
    yaml_text: str
    rule_id: str
    hosts: list[str]
    skipped: int
    duplicates: int
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    examples: list[tuple[str, str]] = field(default_factory=list)
    """(line, why it was skipped), a few per reason."""

    @property
    def imported(self) -> int:
        return len(self.hosts)

    def summary(self) -> str:
        """A one-paragraph account for the CLI."""
        parts = [f"imported {self.imported} hosts as rule {self.rule_id}",
                 f"skipped {self.skipped} lines", f"{self.duplicates} duplicates"]
        lines = [", ".join(parts) + "."]
        for reason, n in sorted(self.skipped_by_reason.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {n:>6} {reason}")
        for line, why in self.examples:
            lines.append(f"  e.g. {line[:100]!r}: {why}")
        return "\n".join(lines)


def _slug(source: str) -> str:
    name = re.split(r"[/\\]", source.rstrip("/\\"))[-1] if source else ""
    name = re.sub(r"\.(txt|list|hosts|conf|filters?)$", "", name.lower())
    name = re.sub(r"[^a-z0-9]+", "-", name).strip("-")
    return name or "blocklist"


def _valid_host(raw: str) -> str | None:
    """Normalised host (IDNA, lower case) or None when it cannot be a host name or IP address."""
    raw = raw.strip().rstrip(".")
    wildcard = raw.startswith("*.")
    h = normalise_host(raw[2:] if wildcard else raw)
    if not h or "." not in h or h in _NOT_HOSTS or ".." in h:
        return None
    try:
        ipaddress.ip_address(h)
        return None if h in _HOSTS_IPS else h
    except ValueError:
        pass
    labels = h.split(".")
    if any(not lab or len(lab) > 63 or lab.startswith("-") or lab.endswith("-") for lab in labels):
        return None
    if labels[-1].isdigit():
        return None
    h = ("*." if wildcard else "") + h
    return h if _HOST_OK.fullmatch(h) and len(h) <= 253 else None


def _classify(line: str) -> tuple[list[str], str | None]:
    """Hosts named by one list line, or ([], reason it is skipped); ([], None) for blank lines."""
    s = line.strip()
    if not s:
        return [], None
    if s.startswith("[") and s.endswith("]"):
        return [], "list header"
    if _COSMETIC.search(s):
        return [], "cosmetic filter (hides page elements, names no host to load)"
    if s.startswith("!"):
        return [], "comment"
    if s.startswith("#"):
        return [], "comment"
    if s.startswith("@@"):
        return [], "exception rule (@@ allows, it does not block)"
    # hosts file: "0.0.0.0 host [host...] [# comment]"
    parts = s.split("#", 1)[0].split()
    if len(parts) >= 2 and parts[0] in _HOSTS_IPS:
        hosts = [h for h in (_valid_host(p) for p in parts[1:]) if h]
        if hosts:
            return hosts, None
        if all(p.lower() in _NOT_HOSTS or p in _HOSTS_IPS for p in parts[1:]):
            return [], "hosts-file entry for the local machine"
        return [], "invalid host name"
    if len(parts) > 1:
        return [], "not a filter or hosts-file line"
    rule, options = s, ""
    if "$" in s and not s.startswith("/"):
        rule, options = s.rsplit("$", 1)
    elif s.startswith("/") and re.search(r"/\$[\w,~=|.-]*$", s):
        rule, options = s.rsplit("$", 1)
    if "badfilter" in options.split(","):
        return [], "badfilter option (disables another rule)"
    if len(rule) > 2 and rule.startswith("/") and rule.endswith("/"):
        return [], "regex filter (cannot be reduced to hosts)"
    if rule.startswith("||"):
        body = rule[2:]
    elif rule.startswith("|"):
        if "://" not in rule:
            return [], "path-only rule (no host)"
        body = rule[1:].split("://", 1)[1]
    elif rule.startswith(("/", "*", "?", "&", "=", ":")):
        return [], "path-only rule (no host)"
    else:
        body = rule.lstrip(".")  # `.host^` and plain one-host-per-line lists
    m = re.match(r"([^/^:|?*$]*(?:\*\.[^/^:|?*$]*)?)(.*)$", body)
    host, rest = (m.group(1), m.group(2)) if m else (body, "")
    rest = re.sub(r"^:\d+", "", rest)
    if rest not in ("", "^", "|", "^|", "/", "/^", "^*", "*"):
        if host.endswith("*") or rest.startswith("*"):
            return [], "wildcard in the host (cannot be reduced to hosts)"
        return [], "rule has a path: importing its host would match more than the list meant"
    if "*" in host and not host.startswith("*."):
        return [], "wildcard in the host (cannot be reduced to hosts)"
    h = _valid_host(host)
    if not h:
        return [], "invalid host name"
    if not _known_suffix(h):
        return [], "not a host name (unknown top-level domain)"
    return [h], None


def _known_suffix(host: str) -> bool:
    """Whether the host ends in a public suffix (`ads.js` in a filter list is a file, not a host)."""
    from webscan.net.registrable import EXTRACTOR

    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(EXTRACTOR(host.removeprefix("*.")).suffix)


def import_blocklist(text: str, *, source: str, rule_id: str | None = None) -> ImportResult:
    """Convert a blocklist to the YAML of one `kind: domains` signature file (see module docstring).

    Raises BlocklistError when no line names a host, since an empty rule would not load.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    rid = rule_id or f"imported.{_slug(source)}"
    if not re.match(RULE_ID, rid):
        raise BlocklistError(f"rule id {rid!r} is not valid: use dotted lower-case words, "
                             "e.g. imported.nocoin")
    hosts: list[str] = []
    seen: set[str] = set()
    duplicates = 0
    reasons: Counter[str] = Counter()
    examples: list[tuple[str, str]] = []
    for line in text.splitlines():
        found, why = _classify(line)
        if why:
            reasons[why] += 1
            if reasons[why] <= EXAMPLES_PER_REASON:
                examples.append((line.strip(), why))
            continue
        for h in found:
            if h in seen:
                duplicates += 1
            else:
                seen.add(h)
                hosts.append(h)
    if not hosts:
        top = ", ".join(f"{n} {r}" for r, n in reasons.most_common(3)) or "no non-blank lines"
        raise BlocklistError(f"{source}: no host names found to import ({top}); is this an "
                             "Adblock/uBlock filter list or a hosts file?")
    no_match = next(c for c in _NO_MATCH_CANDIDATES
                    if not any(c == h.lstrip("*.") or c.endswith("." + h.lstrip("*.")) for h in hosts))
    is_url = bool(re.match(r"^https?://", source or ""))
    rule = {
        "id": rid,
        "description": (f"Loads from a host listed in {source} ({len(hosts)} hosts imported with "
                        "`webscan signatures import`). Check the list's policy, then remove the load "
                        "or the host from the list."),
        "severity": "high",
        "category": CATEGORY,
        "references": [source] if is_url else [],
        "domains": hosts,
        "samples": {"match": [hosts[0].removeprefix("*.") if not hosts[0].startswith("*.")
                              else "www." + hosts[0][2:]],
                    "no_match": [no_match]},
    }
    DomainRule.model_validate(rule)  # fail here, naming the rule, rather than at load time
    doc = {
        "format": FORMAT_VERSION,
        "kind": "domains",
        "description": f"Imported from {source}",
        "rules": [rule],
    }
    header = (f"# Generated by `webscan signatures import` from {source}.\n"
              f"# {len(hosts)} hosts imported; {sum(reasons.values())} lines skipped; "
              f"{duplicates} duplicates. Edit the source list and re-import rather than this file.\n")
    yaml_text = header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=False, width=100)
    return ImportResult(yaml_text=yaml_text, rule_id=rid, hosts=hosts, skipped=sum(reasons.values()),
                        duplicates=duplicates, skipped_by_reason=dict(reasons), examples=examples)
