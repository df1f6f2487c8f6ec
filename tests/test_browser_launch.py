"""Finding Chromium and building its switches: no browser needed for these."""

from __future__ import annotations

import os

import pytest

from webscan.browser.launch import (ENV_CHROMIUM, ChromiumNotFound, chromium_args, find_chromium,
                                    merge_switches)


def test_disable_features_from_us_and_the_user_become_one_switch():
    args = merge_switches(["--disable-features=A,B", "--no-first-run"],
                          ["--disable-features=C,A", "--proxy-server=http://127.0.0.1:1"])
    assert [a for a in args if a.startswith("--disable-features")] == ["--disable-features=A,B,C"]
    assert "--no-first-run" in args and "--proxy-server=http://127.0.0.1:1" in args


def test_lean_switches_and_debugging_port(tmp_path):
    args = chromium_args(str(tmp_path), extra_args=["--disable-features=Foo",
                                                    "--host-resolver-rules=MAP * 127.0.0.1"])
    feats = [a for a in args if a.startswith("--disable-features=")]
    assert len(feats) == 1
    for name in ("WebUIOmniboxPopup", "AimEnabled", "WebUIOmniboxAimPopup", "Foo"):
        assert name in feats[0].split("=", 1)[1].split(",")
    for switch in ("--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--no-first-run", "--disable-quic", "--remote-debugging-port=0",
                   "--disable-blink-features=AutomationControlled",
                   "--host-resolver-rules=MAP * 127.0.0.1"):
        assert switch in args
    assert ("--no-sandbox" in args) == (os.geteuid() == 0)
    assert "--enable-automation" not in args


def test_env_override_wins_and_a_bad_one_says_what_to_do(monkeypatch, tmp_path):
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv(ENV_CHROMIUM, str(fake))
    assert find_chromium() == str(fake)
    assert find_chromium(str(fake)) == str(fake)
    monkeypatch.setenv(ENV_CHROMIUM, str(tmp_path / "missing"))
    with pytest.raises(ChromiumNotFound, match="not an executable"):
        find_chromium()


def test_no_browser_anywhere_tells_how_to_install(monkeypatch, tmp_path):
    import webscan.browser.launch as launch

    monkeypatch.delenv(ENV_CHROMIUM, raising=False)
    monkeypatch.setattr(launch, "SYSTEM_CANDIDATES", (str(tmp_path / "none"),))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ChromiumNotFound) as err:
        find_chromium()
    assert "apt-get install chromium" in str(err.value) and "playwright install chromium" in str(err.value)
