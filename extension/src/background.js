/*
 * webscan background service worker: per-tab state, scoring, badge, notification, stop/allow,
 * the signature feed and reports. Judgement lives in scorer.js (pure); this file is the I/O.
 *
 * Nothing here ever blocks a page: records arrive as messages, scoring is debounced, network
 * calls (feed, reports) are fire-and-forget with a persistent queue.
 */

import * as S from "./scorer.js";

const VERSION = chrome.runtime.getManifest().version;
const CLIENT = `webscan-extension/${VERSION}`;
const DEFAULTS = { service: "", reporting: false, allowlist: [], blocked: {} };
const FEED_MAX_AGE_MS = 6 * 3600 * 1000;
const QUEUE_MAX = 50;
const REPORT_SETTLE_MS = 5000;
const MAX_FRAMES = 5000, MAX_CALL_RATES = 4000, MAX_WORKERS = 256, MAX_LOADS = 1000, MAX_DATA = 65536;
const MAX_EARLY = 256, MAX_EARLY_CHARS = 16 << 20, EARLY_MS = 30000;
const RULE_ALLOW = 1, RULE_BLOCK_FIRST = 10, RULE_BLOCK_LAST = 9999, RULE_FEED_FIRST = 100000;

const tabs = new Map();       // tabId -> state of the page shown in that tab
const wasmCache = new Map();  // sha256 -> {summary, findings, note}: a module is decoded once
let compiled = null;          // Promise<{c, bundled}>
let flushTimer = 0;

// --- settings and rules -----------------------------------------------------------------------

async function settings() {
  const { settings: s } = await chrome.storage.local.get("settings");
  return { ...DEFAULTS, ...(s || {}) };
}

function rules() {
  if (!compiled) {
    compiled = (async () => {
      const bundled = await (await fetch(chrome.runtime.getURL("rules.json"))).json();
      const { feed } = await chrome.storage.local.get("feed");
      let doc = bundled;
      if (feed && feed.text) {
        try { doc = S.fromFeed(feed.text, bundled); } catch (e) { console.warn("webscan: stored feed unusable:", e); }
      }
      return { c: S.compile(doc), bundled };
    })();
  }
  return compiled;
}

function siteOf(url) {
  try {
    const u = new URL(url);
    return /^https?:$/.test(u.protocol) ? u.hostname.toLowerCase() : null;
  } catch (e) { return null; }
}

// --- per-tab state ----------------------------------------------------------------------------

function fresh(tabId, url) {
  return { tabId, url, site: siteOf(url), started: Date.now(), loads: [], loadSeen: new Set(), sockets: [],
           frames: [], workers: [], wasm: new Map(), cpu: [], calls: [], notes: [], result: null, notified: false,
           reported: null, reportTimer: 0, timer: 0, windowTimer: 0, stopped: false, allowed: false, at: null, early: [], earlySize: 0 };
}

function tab(tabId, url) {
  if (!tabs.has(tabId)) tabs.set(tabId, fresh(tabId, url || ""));
  return tabs.get(tabId);
}

chrome.tabs.onRemoved.addListener((tabId) => tabs.delete(tabId));

function b64bytes(b64) {
  const bin = atob(b64), u8 = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
  return u8;
}

async function sha256hex(u8) {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", u8));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function onRecord(t, rec) {
  const where = String(rec.where || ""), realm = String(rec.realm || "page");
  if (rec.t === "wasm") {
    if (!rec.b64) { t.notes.push(`a ${rec.size}-byte Wasm module was too big to capture`); return; }
    const u8 = b64bytes(rec.b64), sha = await sha256hex(u8);
    let entry = t.wasm.get(sha);
    if (!entry) {
      let a = wasmCache.get(sha);
      const target = rec.url || where || t.url;
      const ctx = `captured at runtime: ${rec.api} in ${realm} ${where}; sha256 ${sha.slice(0, 16)}`;
      if (!a) {
        const { c } = await rules();
        a = S.analyseWasm(c, u8, sha, target, ctx);
        delete a.facts;
        wasmCache.set(sha, a);
        if (wasmCache.size > 64) wasmCache.delete(wasmCache.keys().next().value);
      }
      entry = { sha256: sha, key: String(rec.k || ""), size: u8.length, url: rec.url || null, where, realm, api: rec.api, sightings: 0,
                findings: a.findings, summary: a.summary };
      if (a.note) t.notes.push(`${target}: ${a.note}`);
      t.wasm.set(sha, entry);
    }
    entry.sightings++;
  } else if (rec.t === "worker" && t.workers.length < MAX_WORKERS) {
    t.workers.push({ url: String(rec.url), kind: String(rec.kind), where, src: rec.src ? String(rec.src).slice(0, MAX_DATA) : null });
  } else if (rec.t === "socket") {
    if (t.sockets.length < MAX_WORKERS) t.sockets.push({ url: String(rec.url), where });
  } else if (rec.t === "frame" && t.frames.length < MAX_FRAMES) {
    t.frames.push({ url: String(rec.url), dir: rec.dir === "sent" ? "sent" : "received", data: String(rec.data).slice(0, MAX_DATA),
                    t: (Date.now() - t.started) / 1000 });
  } else if (rec.t === "calls" && t.calls.length < MAX_CALL_RATES) {
    const r = { k: String(rec.k || ""), fn: String(rec.fn || "").slice(0, 100), rid: String(rec.rid || "").slice(0, 16),
                calls: Number(rec.calls), span: Number(rec.span), pairs: Number(rec.pairs) || 0, nonce: Number(rec.nonce) || 0,
                where, realm };
    // as observe.py: a malformed record (page code can reach the hook's channel) is dropped
    if (r.calls > 0 && r.span > 0 && r.nonce >= 0 && r.nonce <= r.pairs) t.calls.push(r);
  } else if (rec.t === "cpu") {
    t.cpu.push({ t: (Date.now() - t.started) / 1000, busy_ms: Math.max(0, Number(rec.busy) || 0),
                 span_ms: Math.max(1, Number(rec.span) || 1000) });
    if (t.cpu.length > 20000) t.cpu.splice(0, 10000);
    if (!t.windowTimer) {
      // CPU is judged once a whole window has been watched (scorer.js cpuSummary): look again
      // then, even if no record arrives to trigger it.
      const { c } = await rules();
      t.windowTimer = setTimeout(() => schedule(t), Math.max(0, t.started + c.runtime.cpu_window_s * 1000 + 100 - Date.now()));
    }
  }
}

function schedule(t) {
  if (!t.timer) t.timer = setTimeout(() => { t.timer = 0; evaluate(t).catch((e) => console.error("webscan:", e)); }, 300);
}

/** Judge the tab, then badge, notification and report follow the verdict. */
async function evaluate(t) {
  if (t.allowed) return;
  const { c } = await rules();
  const now = (Date.now() - t.started) / 1000, cpu = S.cpuSummary(c, t.cpu, now);
  const v = S.judgeTab(c, { url: t.url, loads: t.loads, sockets: t.sockets, frames: t.frames, workers: t.workers,
                           wasm: [...t.wasm.values()], cpu, calls: t.calls, window_s: Math.min(now, c.runtime.cpu_window_s),
                           cpuSamples: t.cpu });
  t.result = { ...v, cpu, wasm_modules: [...t.wasm.values()].map((m) => m.summary) };
  await badge(t);
  if (v.label === "miner" && !t.notified) {
    t.notified = true;
    chrome.notifications.create(`webscan-${t.tabId}-${t.started}`, {
      type: "basic", iconUrl: "icons/128.png", title: `Cryptominer on ${t.site || t.url}`,
      message: `${t.site || "This page"} is mining cryptocurrency with your CPU. Open webscan to stop it.`,
    }).catch(() => {});
  }
  const s = await settings();
  if (s.reporting && s.service && (v.label === "miner" || v.label === "suspicious") && t.reported !== v.label && !t.reportTimer) {
    // Let the evidence settle (the pool session, the CPU) before reporting; once per label.
    t.reportTimer = setTimeout(async () => {
      t.reportTimer = 0;
      if (t.allowed || !t.result || tabs.get(t.tabId) !== t) return;
      const report = buildReport(t, await reporterId());
      if (report) {
        t.reported = t.result.label;
        await enqueue(report);
      }
    }, REPORT_SETTLE_MS);
  }
  maybeRefreshFeed();
}

async function badge(t) {
  const label = t.result ? t.result.label : "clean";
  const text = label === "miner" ? "MINE" : label === "suspicious" ? "?" : "";
  await chrome.action.setBadgeText({ tabId: t.tabId, text }).catch(() => {});
  if (text) {
    await chrome.action.setBadgeBackgroundColor({ tabId: t.tabId, color: label === "miner" ? "#c62828" : "#b45309" }).catch(() => {});
  }
  await chrome.action.setTitle({ tabId: t.tabId,
    title: text ? `webscan: ${label} on ${t.site || "this page"} (score ${t.result.score.toFixed(2)})` : "webscan" }).catch(() => {});
}

// --- messages from the relay and the popup ----------------------------------------------------

chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  handle(msg, sender).then(reply, (e) => reply({ error: String(e && e.message || e) }));
  return true;
});

async function handle(msg, sender) {
  const tabId = sender.tab ? sender.tab.id : msg.tabId;
  switch (msg && msg.type) {
    case "hello": {
      if (sender.frameId === 0) newPage(tabId, msg);
      const t = tab(tabId, msg.url), s = await settings(), site = siteOf(msg.url) || t.site;
      if (site && s.allowlist.includes(site)) { t.allowed = true; return { ignore: true }; }
      if (site && s.blocked[site]) { t.stopped = true; return { stop: true }; }
      return {};
    }
    case "records": {
      const t = tab(tabId, sender.url);
      if (t.allowed) return { ignore: true };
      if (sender.frameId !== 0) remember(t, msg);
      await ingest(t, msg);
      return {};
    }
    case "state": {
      const t = tabs.get(msg.tabId);
      const s = await settings();
      if (!t) return { known: false };
      return { known: true, url: t.url, site: t.site, allowed: t.allowed, stopped: t.stopped,
               blocked: t.site ? s.blocked[t.site] || null : null, result: t.result, notes: t.notes.slice(0, 20),
               sockets: t.sockets.slice(0, 20), workers: t.workers.length, reported: t.reported,
               scripts: t.loads.filter((l) => /^script /.test(l.context)).map((l) => l.url).slice(0, 15),
               workerUrls: [...new Set(t.workers.map((w) => w.url))].slice(0, 10) };
    }
    case "stop": return stopSite(msg.tabId, msg.mode === "block" ? "block" : "stop");
    case "allow": return allowSite(msg.tabId);
    case "settings-changed": await applySettings(true); return {};
    case "queue": { const { queue } = await chrome.storage.local.get("queue"); const { lastReport, lastReportStatus } = await chrome.storage.local.get(["lastReport", "lastReportStatus"]); return { queue: queue || [], lastReport, lastReportStatus }; }
    default: return { error: `unknown message ${msg && msg.type}` };
  }
}

/** A top frame says hello once it has loaded (relay.js), so its subframes, which load first,
 * may have reported already: a new top document (its `at`, the document's time origin, differs)
 * starts the tab afresh and takes over what frames created after it began had sent. */
function newPage(tabId, msg) {
  const old = tabs.get(tabId), at = Number(msg.at) || 0;
  if (old && old.at === at) return;  // the same document again (e.g. after a history navigation)
  const t = fresh(tabId, msg.url);
  t.at = at;
  tabs.set(tabId, t);
  for (const { msg: m } of old ? old.early : []) {
    if (Number(m.at) >= at) {
      remember(t, m);
      ingest(t, m).catch((e) => console.error("webscan:", e));
    }
  }
}

/** Subframe messages of the last EARLY_MS, for newPage(). Bounded in number and in size (a
 * message may carry whole Wasm modules), but roomy: an ad-heavy page has many frames reporting
 * before its top frame has loaded, and a miner's module is reported once. */
function remember(t, msg) {
  const now = Date.now(), size = (msg.items || []).reduce((n, s) => n + String(s).length, 0);
  t.early.push({ msg, when: now, size });
  t.earlySize += size;
  while (t.early.length > MAX_EARLY || t.earlySize > MAX_EARLY_CHARS || now - t.early[0].when > EARLY_MS) {
    t.earlySize -= t.early.shift().size;
    if (!t.early.length) break;
  }
}

async function ingest(t, msg) {
  for (const item of (msg.items || []).slice(0, 512)) {
    let rec;
    try { rec = JSON.parse(item); } catch (e) { continue; }
    if (rec && typeof rec === "object") await onRecord(t, rec);
  }
  for (const l of (msg.loads || []).slice(0, 500)) {
    if (t.loads.length >= MAX_LOADS || t.loadSeen.has(l.url)) continue;
    t.loadSeen.add(l.url);
    t.loads.push({ url: String(l.url), context: String(l.context || "loaded by the page") });
  }
  schedule(t);
}

// --- stop, block, allow -----------------------------------------------------------------------

/** Stop now (the hook terminates workers and closes sockets, and keeps doing so on this site),
 * or block the evidence URLs for this site with DNR rules and reload. */
async function stopSite(tabId, mode) {
  const t = tabs.get(tabId);
  if (!t || !t.site) return { error: "no page to stop in this tab" };
  const s = await settings();
  s.blocked[t.site] = { mode, since: new Date().toISOString() };
  s.allowlist = s.allowlist.filter((h) => h !== t.site);
  await chrome.storage.local.set({ settings: s });
  t.stopped = true;
  await chrome.tabs.sendMessage(tabId, { type: "stop" }).catch(() => {});
  if (mode === "block") {
    const urls = new Set([...t.sockets.map((x) => x.url), ...[...t.wasm.values()].map((m) => m.url).filter(Boolean),
                          ...t.workers.map((w) => w.url).filter((u) => /^https?:/.test(u)),
                          ...(t.result ? t.result.findings.filter((f) => f.kind === "domain").map((f) => f.location.target) : [])]);
    await addBlockRules(t.site, [...urls]);
    await chrome.tabs.reload(tabId).catch(() => {});
  }
  await applyAllowRule(s);
  return { ok: true, mode };
}

async function allowSite(tabId) {
  const t = tabs.get(tabId);
  if (!t || !t.site) return { error: "no site in this tab" };
  const s = await settings();
  if (!s.allowlist.includes(t.site)) s.allowlist.push(t.site);
  delete s.blocked[t.site];
  await chrome.storage.local.set({ settings: s });
  t.allowed = true;
  t.result = null;
  await badge(t);
  await removeBlockRules(t.site);
  await applyAllowRule(s);
  return { ok: true };
}

function urlFilterOf(url) {
  const bare = String(url).split(/[?#]/)[0];
  return /[*^|]/.test(bare) || bare.length > 1500 ? null : `|${bare}`;
}

async function addBlockRules(site, urls) {
  const existing = await chrome.declarativeNetRequest.getDynamicRules();
  const used = new Set(existing.map((r) => r.id));
  const add = [];
  let id = RULE_BLOCK_FIRST;
  for (const url of urls) {
    const filter = urlFilterOf(url);
    if (!filter) continue;
    while (used.has(id) && id <= RULE_BLOCK_LAST) id++;
    if (id > RULE_BLOCK_LAST) break;
    used.add(id);
    add.push({ id, priority: 2, action: { type: "block" },
               condition: { urlFilter: filter, initiatorDomains: [site], excludedResourceTypes: ["main_frame"] } });
  }
  if (add.length) await chrome.declarativeNetRequest.updateDynamicRules({ addRules: add });
}

async function removeBlockRules(site) {
  const existing = await chrome.declarativeNetRequest.getDynamicRules();
  const ids = existing.filter((r) => r.id >= RULE_BLOCK_FIRST && r.id <= RULE_BLOCK_LAST
    && (r.condition.initiatorDomains || []).includes(site)).map((r) => r.id);
  if (ids.length) await chrome.declarativeNetRequest.updateDynamicRules({ removeRuleIds: ids });
}

/** One allow rule for every allowlisted site, above the domain blocks. */
async function applyAllowRule(s) {
  const hosts = s.allowlist.filter((h) => /^[a-z0-9.-]+$/.test(h));
  const rule = hosts.length ? [{ id: RULE_ALLOW, priority: 3, action: { type: "allow" },
                                 condition: { initiatorDomains: hosts, excludedResourceTypes: ["main_frame"] } }] : [];
  await chrome.declarativeNetRequest.updateDynamicRules({ removeRuleIds: [RULE_ALLOW], addRules: rule });
}

// --- the signature feed -----------------------------------------------------------------------

let feedBusy = null;

function maybeRefreshFeed(force) {
  if (feedBusy) return feedBusy;
  feedBusy = (async () => {
    const s = await settings();
    if (!s.service) return;
    const { feed } = await chrome.storage.local.get("feed");
    if (!force && feed && feed.service === s.service && Date.now() - feed.checked < FEED_MAX_AGE_MS) return;
    const headers = feed && feed.service === s.service && feed.etag ? { "If-None-Match": feed.etag } : {};
    const r = await fetch(`${s.service.replace(/\/+$/, "")}/v1/signatures`, { headers, cache: "no-store" });
    if (r.status === 304) { await chrome.storage.local.set({ feed: { ...feed, checked: Date.now() } }); return; }
    if (!r.ok) throw new Error(`GET /v1/signatures answered ${r.status}`);
    const text = await r.text();
    const { bundled } = await rules();
    const doc = S.fromFeed(text, bundled);  // throws on a bad feed: keep what we have
    await chrome.storage.local.set({ feed: { text, etag: r.headers.get("ETag"), service: s.service, checked: Date.now(),
                                             version: doc.version, digest: doc.digest } });
    compiled = null;
    await applyFeedRules(doc);
  })().catch((e) => console.warn("webscan: signature refresh failed:", e && e.message))
      .finally(() => { feedBusy = null; });
  return feedBusy;
}

/** Domain rules from the feed replace the bundled static ruleset with dynamic rules. */
async function applyFeedRules(doc) {
  const existing = await chrome.declarativeNetRequest.getDynamicRules();
  const remove = existing.filter((r) => r.id >= RULE_FEED_FIRST).map((r) => r.id);
  const add = dnrRules(doc.domains, RULE_FEED_FIRST);
  await chrome.declarativeNetRequest.updateDynamicRules({ removeRuleIds: remove, addRules: add });
  await chrome.declarativeNetRequest.updateEnabledRulesets({ disableRulesetIds: ["bundled"] });
}

/** Same shape as webscan/extension/dnr.py: one block rule per domain rule (subresources only). */
function dnrRules(domainRules, firstId) {
  const out = [];
  domainRules.forEach((r) => {
    const domains = r.domains.map((d) => d.toLowerCase()).filter((d) => /^[a-z0-9.-]+$/.test(d) && d.includes("."));
    if (domains.length) {
      out.push({ id: firstId + out.length, priority: 1, action: { type: "block" },
                 condition: { requestDomains: domains, excludedResourceTypes: ["main_frame"] } });
    }
  });
  return out;
}

// --- reports ----------------------------------------------------------------------------------

async function reporterId() {
  let { reporter } = await chrome.storage.local.get("reporter");
  if (!reporter) {
    const b = crypto.getRandomValues(new Uint8Array(18));
    reporter = btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    await chrome.storage.local.set({ reporter });
  }
  return reporter;
}

/** A PageReport (webscan/model.py): the page's origin and the evidence, nothing else. */
export function buildReport(t, reporter) {
  let origin;
  try { origin = new URL(t.url).origin; } catch (e) { return null; }
  if (!/^https?:\/\//.test(origin)) return null;
  const page = `${origin}/`;
  const scrub = (s) => (typeof s === "string" ? s.split(t.url).join(page) : s);
  const clean = (f) => ({ ...f, message: scrub(f.message), excerpt: f.excerpt === undefined ? undefined : scrub(f.excerpt),
                         location: Object.fromEntries(Object.entries(f.location).map(([k, v]) => [k, scrub(v)])) });
  const r = t.result, cpu = r.cpu;
  return {
    url: page, reporter, client: CLIENT, local_verdict: r.label, score: r.score,
    findings: r.findings.slice(0, 100).map(clean),
    wasm_modules: r.wasm_modules.slice(0, 32).map((m) => ({ ...m, location: { ...m.location, target: scrub(m.location.target),
                                                                               ...(m.location.context ? { context: scrub(m.location.context) } : {}) } })),
    runtime: { window_s: cpu.window_s, cpu_seconds: cpu.seconds, peak_cpu_share: cpu.peak, cpu_series: cpu.series,
               workers: t.workers.length, sockets: [...new Set(t.sockets.map((s) => s.url))].slice(0, 50),
               pool_jobs: r.pool_jobs, pool_submits: r.pool_submits, final_url: null },
    observed_at: new Date().toISOString(),
  };
}

async function enqueue(report) {
  const { queue = [] } = await chrome.storage.local.get("queue");
  queue.push({ id: `${Date.now()}-${Math.random().toString(36).slice(2)}`, report, attempts: 0, next: 0 });
  await chrome.storage.local.set({ queue: queue.slice(-QUEUE_MAX), lastReport: report });
  flush();
}

/** Send what is due; 429 waits Retry-After, 5xx and network errors back off; never throws. */
let flushing = null;
function flush() {
  if (!flushing) flushing = flushOnce().catch((e) => console.warn("webscan: report queue:", e)).finally(() => { flushing = null; });
  return flushing;
}

async function flushOnce() {
  clearTimeout(flushTimer);
  flushTimer = 0;
  const s = await settings();
  const { queue = [] } = await chrome.storage.local.get("queue");
  if (!s.reporting || !s.service || !queue.length) return;
  const done = new Set(), updated = new Map();
  let wait = Infinity;
  for (const item of queue) {
    if (item.next > Date.now()) { wait = Math.min(wait, item.next - Date.now()); continue; }
    let status = 0;
    try {
      const r = await fetch(`${s.service.replace(/\/+$/, "")}/v1/reports`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(item.report) });
      status = r.status;
      if (status === 429) item.next = Date.now() + (Number(r.headers.get("Retry-After")) || 60) * 1000;
    } catch (e) { status = 0; }
    await chrome.storage.local.set({ lastReportStatus: { status, at: new Date().toISOString() } });
    if ((status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 408 && status !== 429)) {
      done.add(item.id);  // stored, or refused for good (resending the same report will not help)
      continue;
    }
    if (status !== 429) {
      item.attempts++;
      item.next = Date.now() + Math.min(1800e3, 5000 * 2 ** Math.min(item.attempts, 10));
    }
    updated.set(item.id, item);
    wait = Math.min(wait, item.next - Date.now());
  }
  const { queue: now = [] } = await chrome.storage.local.get("queue");  // reports may have arrived meanwhile
  const keep = now.filter((q) => !done.has(q.id)).map((q) => updated.get(q.id) || q);
  await chrome.storage.local.set({ queue: keep.slice(-QUEUE_MAX) });
  if (keep.length) flushTimer = setTimeout(flush, Math.max(1000, Math.min(wait, 1800e3)));
}

// --- start ------------------------------------------------------------------------------------

async function applySettings(forceFeed) {
  const s = await settings();
  await applyAllowRule(s).catch(() => {});
  if (!s.service) {
    // No service: back to the bundled set and its static DNR ruleset.
    const { feed } = await chrome.storage.local.get("feed");
    if (feed) {
      await chrome.storage.local.remove("feed");
      compiled = null;
      const existing = await chrome.declarativeNetRequest.getDynamicRules();
      await chrome.declarativeNetRequest.updateDynamicRules({ removeRuleIds: existing.filter((r) => r.id >= RULE_FEED_FIRST).map((r) => r.id) });
      await chrome.declarativeNetRequest.updateEnabledRulesets({ enableRulesetIds: ["bundled"] });
    }
    return;
  }
  await maybeRefreshFeed(forceFeed);
  flush();
}

chrome.storage.onChanged.addListener((changes, area) => {
  if (area === "local" && changes.settings) applySettings(false);

});

applySettings(false);

/** For people (and tests) in the service worker's console: `webscan.tabs`, `webscan.find(url)`. */
globalThis.webscan = {
  tabs,
  find: (part) => [...tabs.values()].filter((t) => t.url.includes(part)).map((t) => t.tabId),
  summary: (tabId) => { const t = tabs.get(tabId); return t && t.result ? { label: t.result.label, score: t.result.score, rules: t.result.findings.map((f) => f.rule), cpu: t.result.cpu, notes: t.notes } : null; },
};
