"""Reading the list of sites to crawl: URLs or bare domains, one per line, # comments.

Every site keeps the exact text the user gave (the report's `url` must match it, so results
can be joined back to the input); the URL actually visited is derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class SitesError(ValueError):
    """A sites file or argument that cannot be used; the message names the place."""


@dataclass(frozen=True)
class Site:
    given: str  # exactly as written by the user
    url: str  # what the browser visits


def to_url(given: str) -> str:
    """`example.com` -> `http://example.com/`; URLs keep their scheme; others are refused."""
    text = given.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise SitesError(f"{given!r}: only http and https sites can be crawled")
    if not parts.hostname:
        raise SitesError(f"{given!r}: no host name")
    if not parts.path:
        text += "/"
    return text


def parse_sites(lines: list[str], source: str) -> tuple[list[Site], list[str]]:
    """Sites in order, duplicates dropped; and one problem line per unusable entry."""
    sites: list[Site] = []
    problems: list[str] = []
    seen: set[str] = set()
    for n, raw in enumerate(lines, 1):
        # A comment starts a line or follows whitespace; a URL's own `#fragment` does not.
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for sep in (" #", "\t#"):
            line = line.split(sep, 1)[0].strip()
        try:
            url = to_url(line)
        except SitesError as e:
            problems.append(f"{source}:{n}: {e}")
            continue
        if line not in seen:
            seen.add(line)
            sites.append(Site(line, url))
    return sites, problems


def read_sites(args: list[str]) -> tuple[list[Site], list[str]]:
    """Arguments that name an existing file are sites files; the others are sites."""
    sites: list[Site] = []
    problems: list[str] = []
    for arg in args:
        p = Path(arg)
        if p.is_file():
            try:
                text = p.read_text(encoding="utf-8", errors="replace")
            except OSError as e:
                raise SitesError(f"{arg}: cannot read: {e.strerror or e}") from None
            found, bad = parse_sites(text.splitlines(), arg)
        else:
            found, bad = parse_sites([arg], "argument")
        sites += found
        problems += bad
    unique: dict[str, Site] = {}
    for s in sites:
        unique.setdefault(s.given, s)
    return list(unique.values()), problems
