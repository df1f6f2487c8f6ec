"""Sites lists and the resumable results file of `webscan crawl` (no browser needed)."""

from __future__ import annotations

import json

import pytest

from webscan.crawl.results import ResultsWriter, completed_sites
from webscan.crawl.sites import SitesError, parse_sites, read_sites, to_url
from webscan.model import Report, VerdictLabel


def test_bare_domains_and_urls_keep_what_was_given():
    sites, problems = parse_sites([
        "# my list", "", "example.com", "https://shop.example.org/path?q=1#frag  # a comment",
        "http://127.0.0.1:8080", "example.com", "ftp://files.example.com/", "   ",
    ], "sites.txt")
    assert [s.given for s in sites] == ["example.com", "https://shop.example.org/path?q=1#frag",
                                        "http://127.0.0.1:8080"]
    assert [s.url for s in sites] == ["http://example.com/", "https://shop.example.org/path?q=1#frag",
                                      "http://127.0.0.1:8080/"]
    assert problems == ["sites.txt:7: 'ftp://files.example.com/': only http and https sites can be crawled"]


def test_read_sites_mixes_files_and_arguments(tmp_path):
    f = tmp_path / "sites.txt"
    f.write_text("a.example.com\nb.example.com # second\n")
    sites, problems = read_sites([str(f), "c.example.com", "a.example.com"])
    assert [s.given for s in sites] == ["a.example.com", "b.example.com", "c.example.com"]
    assert problems == []


def test_to_url_refuses_hostless():
    with pytest.raises(SitesError):
        to_url("http://")


def _report(url: str) -> Report:
    return Report(url=url, verdict=VerdictLabel.clean, score=0.0, explanation="No evidence.")


def test_results_resume_cuts_a_torn_line_and_skips_done_sites(tmp_path):
    path = tmp_path / "out" / "results.jsonl"
    w = ResultsWriter(path, append=False)
    w.write(_report("a.example.com"))
    w.write(_report("b.example.com"))
    w.close()
    with open(path, "ab") as f:
        f.write(b'{"url": "c.example.com", "verd')  # what kill -9 mid-write leaves
    assert completed_sites(path) == {"a.example.com", "b.example.com"}
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(x)["url"] for x in lines)
    w = ResultsWriter(path, append=True)
    w.write(_report("c.example.com"))
    w.close()
    assert completed_sites(path) == {"a.example.com", "b.example.com", "c.example.com"}


def test_results_missing_file_means_nothing_done(tmp_path):
    assert completed_sites(tmp_path / "none.jsonl") == set()
