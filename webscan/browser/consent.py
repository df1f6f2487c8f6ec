"""One bounded, generic cookie-consent click, for miners that start only once a visitor agrees.

A real visitor clicks "Accept" on a cookie banner, and some miners start from that click. The
crawler does the same, within bounds: only a button (never a link, never a form's submit
button) whose whole text or aria label is an agreement ("Accept all", "I agree", "OK"...), inside
a banner-like container (a fixed or sticky box, a dialog, or an element named for cookies,
consent or privacy), visible on screen, in the page, its frames or their open shadow roots; at
most one click per visit, with a trusted mouse event. What was clicked is reported in the
coverage.
"""

from __future__ import annotations

import asyncio
from typing import Any

MAX_FRAMES = 8
"""Frames searched per attempt (consent managers often draw their banner in an iframe)."""

FIND_JS = r"""() => {
  const AGREE = /^(accept|accept all|accept all cookies|accept cookies|accept and close|accept & close|allow|allow all|allow all cookies|allow cookies|agree|i agree|agree and close|agree & close|i accept|yes, i agree|ok|okay|ok, got it|got it|i understand|understood|consent|alle akzeptieren|akzeptieren|zustimmen|einverstanden|accepter|tout accepter|j'accepte|aceptar|aceptar todo|acepto|accetta|accetta tutto|accetto|aceitar|aceitar tudo|akkoord|accepteren|alles accepteren|godkänn|acceptera|zaakceptuj|принять|同意する|同意)$/i;
  const CONTAINER = /cookie|consent|gdpr|privacy|cmp|banner|notice|onetrust|didomi|qc-cmp|truste|usercentrics/i;
  const clean = s => (s || "").replace(/\s+/g, " ").trim().replace(/[.!\u2713\u2714]+$/, "").trim();
  const visible = el => {
    const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    return r.width > 4 && r.height > 4 && r.bottom > 0 && r.right > 0 && r.top < innerHeight &&
      r.left < innerWidth && cs.visibility !== "hidden" && cs.display !== "none" && Number(cs.opacity) > 0.1;
  };
  const up = e => e.parentElement || (e.parentNode && e.parentNode.host) || null;  // through shadow roots
  const bannerLike = el => {
    for (let e = up(el), depth = 0; e && e !== document.body && depth < 10; e = up(e), depth++) {
      const role = e.getAttribute("role") || "";
      if (role === "dialog" || role === "alertdialog" || role === "banner" && depth < 4) return true;
      const names = (e.id || "") + " " + (typeof e.className === "string" ? e.className : "") + " " + (e.getAttribute("aria-label") || "");
      if (CONTAINER.test(names)) return true;
      const pos = getComputedStyle(e).position;
      if (pos === "fixed" || pos === "sticky") return true;
    }
    return false;
  };
  const SEL = "button, [role=button], input[type=button]";
  const all = Array.from(document.querySelectorAll(SEL));
  const roots = [document];  // consent managers often draw in an open shadow root
  for (let r = 0; r < roots.length && r < 20; r++) {
    const hosts = roots[r].querySelectorAll("*");
    for (let i = 0; i < hosts.length && i < 5000; i++) {
      const sr = hosts[i].shadowRoot;
      if (sr && roots.length < 20) { roots.push(sr); all.push(...sr.querySelectorAll(SEL)); }
    }
  }
  for (let i = 0; i < all.length && i < 500; i++) {
    const el = all[i];
    if (el.tagName === "A" || el.closest("a[href]")) continue;  // never a link
    if (el.tagName === "BUTTON" && el.form && (el.getAttribute("type") || "submit") === "submit") continue;
    if (el.disabled) continue;
    const text = clean(el.tagName === "INPUT" ? el.value : el.innerText) || clean(el.getAttribute("aria-label"));
    if (!AGREE.test(text) || !visible(el) || !bannerLike(el)) continue;
    return el;
  }
  return null;
}"""


async def click_consent(page: Any, *, timeout_s: float = 2.0) -> str | None:
    """Click one consent button if a banner shows one; the button's text, or None."""
    for frame in page.frames[:MAX_FRAMES]:
        try:
            handle = await asyncio.wait_for(frame.evaluate_handle(FIND_JS), timeout_s)
            element = handle.as_element()
            if element is None:
                await handle.dispose()
                continue
            text = await asyncio.wait_for(element.evaluate(
                "e => (e.tagName === 'INPUT' ? e.value : e.innerText) || e.getAttribute('aria-label') || ''"),
                timeout_s)
            await element.click(timeout=timeout_s * 1000, no_wait_after=True)
            await handle.dispose()
            return " ".join(str(text).split())[:60]
        except Exception:
            continue  # a frame gone, a page busy: consent is best effort
    return None
