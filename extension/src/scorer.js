/*
 * The background scorer: the hook's observations of one tab in, findings and a verdict out,
 * with the SAME rules (signatures/, compiled to rules.json by `webscan extension build`, or
 * the service's /v1/signatures) and the SAME arithmetic as webscan/verdict.py.
 *
 * Pure functions, no chrome.* here: the service worker owns state and I/O, and the tests run
 * this module under Node against the Python engines (tests/test_extension_scorer.py).
 *
 * Ports, kept small and faithful:
 *   webscan/verdict.py            score (noisy-OR of the strongest weight per category, groups
 *                                 capped), label (miner needs the threshold AND a strong category)
 *   webscan/net/protocol.py       message shapes ("*" = any value, extra keys allowed), sessions
 *   webscan/browser/evidence.py   decode_frame, runtime findings (RUNTIME_RULES), per-connection
 *                                 protocol hits, worker pools, CPU
 *   webscan/net/domains.py        host and parent-domain lookup, url patterns
 *   webscan/wasm                  see wasm.js
 */

import * as wasm from "./wasm.js";

export const EXCERPT_MAX = 200;
const SEVERITY_ORDER = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
const ANY = "*";
const MAX_DEPTH = 8;
const MAX_FRAMES_PARSED = 5000;
const JOB_MESSAGES = new Set(["job", "login result", "notify"]);
const SUBMIT_MESSAGES = new Set(["submit", "solved"]);

// --- rules ------------------------------------------------------------------------------------

/** Python regex -> [source, flags] for the few constructs our rules use; null if untranslatable. */
export function pyRegex(src, forceI) {
  let flags = forceI ? "i" : "";
  const m = /^\(\?([aiLmsux]+)\)/.exec(src);
  if (m) {
    src = src.slice(m[0].length);
    if (m[1].includes("i") && !flags.includes("i")) flags += "i";
    if (m[1].includes("s")) flags += "s";
    if (m[1].includes("m")) flags += "m";
  }
  src = src.replace(/\(\?P</g, "(?<").replace(/\(\?P=(\w+)\)/g, "\\k<$1>").replace(/\\Z/g, "$");
  try { new RegExp(src, flags); } catch (e) { return null; }
  return [src, flags];
}

const hex = (v) => "0x" + BigInt(v).toString(16).toUpperCase();

/** JSON text with every integer literal of 16+ digits turned into a string, so 64-bit
 * constants keep their exact value (a JavaScript number would round them). Strings are skipped. */
export function quoteBigInts(text) {
  let out = "", i = 0, start = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      i++;
    } else if ((ch >= "0" && ch <= "9") || ch === "-") {
      let j = i + 1;
      while (j < text.length && /[0-9.eE+-]/.test(text[j])) j++;
      const lit = text.slice(i, j);
      if (/^-?\d{16,}$/.test(lit)) { out += text.slice(start, i) + '"' + lit + '"'; start = j; }
      i = j;
    } else {
      i++;
    }
  }
  return out + text.slice(start);
}

/**
 * The service's signature feed ({version, digest, rules: [...], verdict}) in the form the build
 * writes, so a refreshed set and the bundled one go through the same compile.
 * `bundled` supplies what the feed does not carry: engine data (opcodes, nonce-loop bounds, runtime rules).
 */
export function fromFeed(text, bundled) {
  const doc = JSON.parse(quoteBigInts(text));
  if (!doc || typeof doc !== "object" || !Array.isArray(doc.rules) || !doc.verdict) {
    throw new Error("not a webscan signature feed (needs rules and verdict)");
  }
  const out = { format: 1, version: String(doc.version), digest: String(doc.digest), source: "service",
                verdict: verdictOf(doc.verdict), domains: [], protocol: [], constants: [], wasm: [],
                runtime: bundled.runtime, opcodes: bundled.opcodes, mining: bundled.mining };
  const base = (r) => ({ id: r.id, description: r.description, severity: r.severity, category: r.category,
                         references: r.references || [] });
  const regexes = (list, forceI) => (list || []).map((p) => pyRegex(p, forceI)).filter(Boolean);
  for (const r of doc.rules) {
    if (!r || typeof r !== "object" || !r.id) continue;
    if ("domains" in r || "url_patterns" in r) {
      out.domains.push({ ...base(r), domains: r.domains || [], url_patterns: regexes(r.url_patterns, true) });
    } else if ("shape" in r || "all_of" in r) {
      out.protocol.push({ ...base(r), message: r.message || "", shape: r.shape ?? null, all_of: r.all_of || [] });
    } else if ("primitive" in r) {
      out.constants.push({ id: r.id, primitive: r.primitive, width: r.width, min_hits: r.min_hits,
                           values: (r.values || []).map(hex), byte_patterns: r.byte_patterns || [] });
    } else if ("primitives_all" in r || "primitives_any" in r || "export_patterns" in r || "min_xor_share" in r) {
      out.wasm.push({ ...base(r), primitives_all: r.primitives_all || [], primitives_any: r.primitives_any || [],
                      primitives_min: r.primitives_min || 0, min_instructions: r.min_instructions || 0,
                      min_xor_share: r.min_xor_share ?? null, min_rotates_per_1000: r.min_rotates_per_1000 ?? null,
                      export_patterns: regexes(r.export_patterns, false), import_patterns: regexes(r.import_patterns, false),
                      mining_loop: r.mining_loop || false });
    }  // JavaScript rules need a parser: the extension judges behaviour, the service judges code
  }
  return out;
}

function verdictOf(v) {
  const groups = {};
  for (const [name, g] of Object.entries(v.groups || {})) groups[name] = { categories: g.categories, cap: g.cap };
  const categories = {};
  for (const [name, c] of Object.entries(v.categories)) {
    categories[name] = { weight: c.weight, strong: !!c.strong, miner_evidence: c.miner_evidence !== false };
  }
  return { miner_threshold: v.miner_threshold, suspicious_threshold: v.suspicious_threshold,
           miner_min_strong: v.miner_min_strong, miner_min_categories: v.miner_min_categories, groups, categories };
}

/** Matchers built once per rule set: "compile once, match fast". */
export function compile(doc) {
  const hosts = new Map(), subsOnly = new Map(), globs = [], patterns = [];
  for (const r of doc.domains) {
    for (let d of r.domains) {
      d = d.toLowerCase().replace(/\.$/, "");
      if (d.startsWith("*.") && !d.slice(2).includes("*")) push(subsOnly, d.slice(2), r);
      else if (d.includes("*")) globs.push([new RegExp("^" + d.split("*").map(esc).join("[a-z0-9.-]*") + "$"), r]);
      else push(hosts, d, r);
    }
    for (const [src, flags] of r.url_patterns) patterns.push([new RegExp(src, flags), r]);
  }
  return {
    doc,
    verdict: doc.verdict,
    domains: { hosts, subsOnly, globs, patterns },
    shapes: doc.protocol.filter((r) => r.shape !== null && r.shape !== undefined),
    sessions: doc.protocol.filter((r) => r.all_of && r.all_of.length),
    runtime: doc.runtime,
    wasm: { opcodes: wasm.compileOpcodes(doc.opcodes), constants: wasm.compileConstants(doc.constants),
            rules: wasm.compileWasmRules(doc.wasm), mining: doc.mining },
  };
}

function push(map, key, value) { if (!map.has(key)) map.set(key, []); map.get(key).push(value); }
function esc(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

// --- findings ---------------------------------------------------------------------------------

/** A one-line, bounded excerpt, as webscan.evidence.excerpt_of. */
export function excerptOf(text, limit = EXCERPT_MAX) {
  if (text === null || text === undefined) return null;
  let t = String(text).split(/\s+/).filter(Boolean).join(" ");
  t = Array.from(t, (ch) => (/[\p{L}\p{N}\p{P}\p{S}\p{Zs}]/u.test(ch) ? ch : "\ufffd")).join("");
  return t.length <= limit ? t : t.slice(0, limit - 1) + "\u2026";
}

function location(target, extra = {}) {
  const loc = { target: String(target || "(unknown)") };
  for (const k of ["line", "column", "wasm_function", "wasm_offset", "context"]) {
    if (extra[k] !== undefined && extra[k] !== null) loc[k] = extra[k];
  }
  return loc;
}

/** Exactly the fields of webscan.model.Finding (the service forbids any other). */
export function finding(rule, kind, loc, { message, excerpt, category } = {}) {
  const f = { rule: rule.id, kind, category: category || rule.category, severity: rule.severity,
              message: message || rule.description, location: loc, references: [...(rule.references || [])] };
  const ex = excerptOf(excerpt);
  if (ex !== null) f.excerpt = ex;
  return f;
}

function runtimeFinding(c, id, loc, message, excerpt) {
  const r = c.runtime.rules[id];
  return finding({ id, category: r.category, severity: r.severity, description: r.description, references: [] },
                 "runtime", loc, { message: message || r.description, excerpt });
}

// --- domains ----------------------------------------------------------------------------------

export function hostOf(url) {
  try {
    let u = new URL(url);
    if (u.protocol === "blob:") u = new URL(u.pathname);
    return u.hostname ? u.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase() : null;
  } catch (e) { return null; }
}

/** Domain rules hit by one URL: the host and each parent domain, then the url patterns. */
export function matchUrl(c, url) {
  const out = [], seen = new Set(), host = hostOf(url), d = c.domains;
  const add = (r) => { if (!seen.has(r.id)) { seen.add(r.id); out.push(r); } };
  if (host) {
    const labels = host.split(".");
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join(".");
      (d.hosts.get(suffix) || []).forEach(add);
      if (i > 0) (d.subsOnly.get(suffix) || []).forEach(add);
    }
    for (const [re, r] of d.globs) if (re.test(host)) add(r);
  }
  for (const [re, r] of d.patterns) if (re.test(url)) add(r);
  return out;
}

// --- protocol ---------------------------------------------------------------------------------

/** JSON values in one text frame: plain JSON, socket.io `42[...]`, or one per line (stratum). */
export function decodeFrame(payload) {
  let text = String(payload).trim();
  if (!text || !"[{0123456789".includes(text[0])) return [];
  text = text.replace(/^\d+(?=[[{])/, "");
  try { return [JSON.parse(text)]; } catch (e) { /* line by line below */ }
  const out = [];
  for (let line of text.split(/\r?\n/).slice(0, 64)) {
    line = line.trim();
    if (line[0] === "{" || line[0] === "[") { try { out.push(JSON.parse(line)); } catch (e) { /* skip */ } }
  }
  return out;
}

const isObj = (o) => o !== null && typeof o === "object" && !Array.isArray(o);

/** Does a decoded JSON value have the template's shape? Iterative and bounded, as protocol.py. */
export function shapeMatches(template, obj) {
  const stack = [[template, obj, 0]];
  while (stack.length) {
    const [t, o, d] = stack.pop();
    if (d > MAX_DEPTH) return false;
    if (t === ANY) continue;
    if (isObj(t)) {
      if (!isObj(o)) return false;
      for (const k of Object.keys(t)) {
        if (!Object.prototype.hasOwnProperty.call(o, k)) return false;
        stack.push([t[k], o[k], d + 1]);
      }
    } else if (Array.isArray(t)) {
      if (!Array.isArray(o)) return false;
    } else if (typeof t === "boolean" || typeof o === "boolean") {
      if (t !== o) return false;
    } else if (t !== o) {
      return false;
    }
  }
  return true;
}

export function matchMessage(c, obj) {
  const frames = Array.isArray(obj) ? obj.slice(0, 64) : [obj];
  const hits = c.shapes.filter((r) => frames.some((f) => shapeMatches(r.shape, f)));
  const ids = new Set(hits.map((r) => r.id));
  return hits.concat(c.sessions.filter((r) => r.all_of.every((id) => ids.has(id))));
}

function protocolFindings(c, frames, out, valuesOf) {
  const byConn = new Map();
  for (const f of frames.slice(0, MAX_FRAMES_PARSED)) push(byConn, f.url, f);
  let jobs = 0, submits = 0;
  for (const [url, list] of byConn) {
    const hits = new Map();  // rule id -> [rule, count, first frame]
    for (const f of list) {
      for (const obj of valuesOf(f)) {
        const kinds = new Set();
        for (const r of matchMessage(c, obj)) {
          kinds.add(r.message);
          if (r.all_of && r.all_of.length) continue;
          if (!hits.has(r.id)) hits.set(r.id, [r, 0, f]);
          hits.get(r.id)[1]++;
        }
        if ([...kinds].some((k) => JOB_MESSAGES.has(k))) jobs++;
        if ([...kinds].some((k) => SUBMIT_MESSAGES.has(k))) submits++;
      }
    }
    for (const [r, count, first] of hits.values()) {
      out.push(finding(r, "protocol", location(url, { context: `WebSocket frame ${first.dir}` }),
                       { message: `${r.description} Seen ${count} time(s) on this connection.`, excerpt: first.data }));
    }
    for (const r of c.sessions) {
      if (!r.all_of.every((id) => hits.has(id))) continue;
      const counts = r.all_of.map((id) => `${hits.get(id)[1]} x ${id.split(".").pop()}`).join(", ");
      out.push(finding(r, "protocol", location(url, { context: "one WebSocket connection" }),
                       { message: `${r.description} Seen on one connection: ${counts}.` }));
    }
  }
  return { jobs, submits };
}

// --- the job/share cycle --------------------------------------------------------------------

/*
 * A pool's job/share cycle on one connection, by its shape: a port of webscan/net/jobshare.py's
 * text path (plain JSON, socket.io, one JSON value per line), whose docstring says what makes a
 * job, a share and a cycle. Binary frames are not ported: the hook hands the extension a binary
 * frame's size only. Its bounds come from the build (rules.runtime.jobshare).
 */
const HEX = /^[0-9a-fA-F]+$/;
const isHex = (v) => typeof v === "string" && HEX.test(v);
const lowerStr = (v) => String(v).toLowerCase();

/** [path, value] of a decoded message's scalars, bounded in depth and count (jobshare._leaves). */
function leaves(obj, J) {
  const stack = [["$", obj, 0]], out = [];
  while (stack.length && out.length < J.max_leaves) {
    const [path, node, depth] = stack.pop();
    if (isObj(node)) {
      if (depth < J.max_depth) {
        const items = Object.entries(node).slice(0, J.max_leaves);
        for (let i = items.length - 1; i >= 0; i--) stack.push([`${path}.${items[i][0]}`, items[i][1], depth + 1]);
      }
    } else if (Array.isArray(node)) {
      if (depth < J.max_depth) {
        const items = node.slice(0, J.max_leaves);
        for (let i = items.length - 1; i >= 0; i--) stack.push([`${path}[${i}]`, items[i], depth + 1]);
      }
    } else if (typeof node === "string" || typeof node === "number") {
      out.push([path, node]);
    }
  }
  return out;
}

function jobshareMessages(frames, J, valuesOf) {
  const out = [];
  frames.slice(0, J.max_frames).forEach((f) => {
    const text = String(f.data).trim(), framing = /^\d+(?=[[{])/.test(text) ? "socket.io" : "json";
    const found = valuesOf(f).flatMap((v) => leaves(v, J));
    if (found.length) out.push({ dir: f.dir, t: f.t || 0, framing, raw: String(f.data), leaves: found });
  });
  return out;
}

function jsonShare(m, jobs, received, J) {
  const res = m.leaves.find(([, v]) => isHex(v) && v.length === J.hash_hex && !received.has(v.toLowerCase()));
  if (!res) return null;
  const echoable = new Set(jobs.flatMap((j) => [...j.echoable]));
  const nonce = m.leaves.find(([p, v]) => p !== res[0] && isHex(v) && J.nonce_hex.includes(v.length) && !echoable.has(v.toLowerCase()));
  if (!nonce) return null;
  if (!m.leaves.some(([p, v]) => p !== res[0] && p !== nonce[0] && echoable.has(lowerStr(v)))) return null;
  return { m, hash: res[1].toLowerCase(), noncePath: nonce[0], hashPath: res[0] };
}

/** The job/share cycle on one connection's text frames ({dir, data, t}, in order), or null. */
export function findCycle(frames, J, valuesOf = (f) => decodeFrame(f.data)) {
  const msgs = jobshareMessages(frames, J, valuesOf);
  const received = new Set();
  for (const m of msgs) if (m.dir !== "sent") for (const [, v] of m.leaves) received.add(lowerStr(v));
  let jobs = [], jobCount = 0, firstJob = 0;
  const shares = [], sentSoFar = new Set();
  for (const m of msgs) {
    if (m.dir === "received") {
      const blob = m.leaves.find(([, v]) => isHex(v) && v.length >= J.hash_hex && !sentSoFar.has(v.toLowerCase()));
      if (!blob) continue;
      const target = m.leaves.some(([p, v]) => p !== blob[0] && ((isHex(v) && v.length >= J.target_hex[0] && v.length <= J.target_hex[1])
                                                                 || typeof v === "number"));
      if (!target) continue;
      const echoable = new Set(m.leaves.filter(([p, v]) => p !== blob[0] && String(v).length >= 2).map(([, v]) => lowerStr(v)));
      jobs = [...jobs, { m, blobPath: blob[0], echoable }].slice(-J.recent_jobs);
      if (jobCount === 0) firstJob = m.t;
      jobCount++;
      continue;
    }
    if (jobs.length) {
      const share = jsonShare(m, jobs, received, J);
      if (share) shares.push(share);
    }
    for (const [, v] of m.leaves) sentSoFar.add(lowerStr(v));
  }
  if (jobCount === 0 || shares.length < J.min_shares) return null;
  if (new Set(shares.map((x) => x.hash)).size < J.min_shares) return null;  // the same "result" each time is an id
  const last = shares[shares.length - 1], job = jobs[jobs.length - 1];
  return { jobs: jobCount, shares: shares.length, framing: last.m.framing, first_job_t: firstJob, last_share_t: last.m.t,
           job_example: excerpt(job.m.raw), share_example: excerpt(last.m.raw),
           fields: [`blob at ${job.blobPath}`, `nonce at ${last.noncePath}`, `result at ${last.hashPath}`] };
}

const excerpt = (raw, limit = 160) => (raw.length <= limit ? raw : raw.slice(0, limit - 1) + "\u2026");

/**
 * Mean share of a core between two times of the tab, from busy-time samples [{t, busy_ms}]
 * read as a running total that starts at `from` (Observation.cpu_share_between of records.py,
 * on the samples a case or a tab holds; `end`: where a closed window's total is carried to).
 */
export function cpuShareBetween(samples, from, end, a, b) {
  const points = [[from, 0]];
  let total = 0;
  for (const s of samples) { total += s.busy_ms / 1000; points.push([s.t, total]); }
  if (end !== null && end !== undefined && points[points.length - 1][0] < end) points.push([end, total]);
  if (points.length < 2) return 0;
  const inside = points.filter(([t]) => a <= t && t <= b);
  if (inside.length < 2 || inside[inside.length - 1][0] <= inside[0][0]) return 0;
  const [t0, c0] = inside[0], [t1, c1] = inside[inside.length - 1];
  return Math.max(0, c1 - c0) / (t1 - t0);
}

/** evidence.py's _jobshare: a cycle per connection, with the page's CPU between its first job and last share. */
function jobshareFindings(c, obs, out, valuesOf) {
  const J = c.runtime.jobshare, byConn = new Map();
  for (const f of obs.frames.slice(0, MAX_FRAMES_PARSED)) push(byConn, f.socket || f.url, f);
  for (const frames of byConn.values()) {
    const cycle = findCycle(frames, J, valuesOf);
    if (!cycle) continue;
    const cpu = obs.cpuSamples ? cpuShareBetween(obs.cpuSamples, obs.cpuFrom || 0, obs.cpuEnd ?? null, cycle.first_job_t, cycle.last_share_t) : 0;
    const id = cpu >= c.runtime.multicore_share ? "runtime.pool.job-share-cpu" : "runtime.pool.job-share";
    out.push(runtimeFinding(c, id, location(frames[0].url || "(unknown socket)", { context: "one WebSocket connection" }),
      `${c.runtime.rules[id].description} ${cycle.jobs} job(s) in and ${cycle.shares} share(s) out (${cycle.framing} framing; ` +
      `${cycle.fields.join("; ")}); page CPU between the first job and the last share: ${cpu.toFixed(2)} cores. Last share: ${cycle.share_example}`,
      cycle.job_example));
  }
  // evidence.py's _loop_and_cycle: each half alone is suspicious; both in one visit are a miner.
  const loop = out.find((f) => f.rule.startsWith("runtime.pow.hash-loop"));
  const cyc = out.find((f) => f.rule.startsWith("runtime.pool.job-share"));
  if (loop && cyc) {
    const id = "runtime.pow.loop-and-cycle";
    out.push(runtimeFinding(c, id, location(obs.url, { context: `${loop.location.context}; ${cyc.location.target}` }),
      `${c.runtime.rules[id].description} Loop: ${loop.location.context}. Cycle on ${cyc.location.target}.`));
  }
}

// --- the hashing loop -------------------------------------------------------------------------

const rateOf = (r) => (r.span > 0 ? r.calls * 1000 / r.span : 0);
const sumOf = (list, f) => list.reduce((n, x) => n + f(x), 0);

function moduleName(m, key, fn) {
  if (m) return `module sha256 ${m.sha256.slice(0, 16)}`;
  if (fn.startsWith("crypto.subtle.digest")) return "the page's Web Crypto";
  return key ? `module ${key}` : "a module whose bytes were not read yet";
}

/**
 * The hook's call reports ({k, fn, rid, calls, span, pairs, nonce, where, realm}: one export in
 * one realm over about a second) per export of a module: a hashing loop, a hot export, or
 * nothing. A port of evidence.py's _hash_loop: a loop is an export hot in one realm for
 * loop_sustain of the window whose sampled inputs mostly differed only in a counting nonce;
 * multi-core in two realms or next to multicore_share cores of CPU.
 */
export function hashLoopFindings(c, calls, mods, cpuShare, windowS, page, out) {
  if (!calls.length) return;
  const rt = c.runtime, hot = (r) => rateOf(r) >= rt.hot_calls_per_s;
  const names = new Map();
  for (const m of mods) if (m.key) names.set(m.key, m);
  const groups = new Map();  // "key\0fn" -> Map(realm -> reports)
  for (const r of calls) {
    const g = `${r.k || ""}\0${r.fn}`, realm = `${r.realm}\0${r.where || ""}\0${r.rid || ""}`;
    if (!groups.has(g)) groups.set(g, new Map());
    push(groups.get(g), realm, r);
  }
  const need = Math.max(2, Math.trunc(windowS * rt.loop_sustain));
  const loops = [], hots = [];
  for (const realms of groups.values()) {
    const busy = [...realms.values()].filter((rs) => sumOf(rs, hot) >= 2);
    if (!busy.length) continue;
    const looping = busy.filter((rs) => {
      const nonce = sumOf(rs, (r) => r.nonce);
      return sumOf(rs, hot) >= need && nonce >= rt.min_nonce_pairs
        && nonce >= rt.nonce_share * Math.max(1, sumOf(rs, (r) => r.pairs));
    });
    (looping.length ? loops : hots).push(looping.length ? looping : busy);
  }
  const describe = (realms) => {
    const reports = realms.flat(), first = reports[0];
    const rate = sumOf(reports, (r) => r.calls) * 1000 / sumOf(reports, (r) => r.span);
    const m = names.get(first.k || "");
    return { reports, first, rate, m, realms: realms.length, what: moduleName(m, first.k || "", first.fn),
             nonce: sumOf(reports, (r) => r.nonce), pairs: sumOf(reports, (r) => r.pairs) };
  };
  for (const realms of loops.slice(0, 4)) {
    const d = describe(realms);
    const id = realms.length >= 2 || cpuShare >= rt.multicore_share ? "runtime.pow.hash-loop-multicore" : "runtime.pow.hash-loop";
    const target = (d.m ? d.m.url || d.m.where : d.first.where || page) || page;
    out.push(runtimeFinding(c, id, location(target, { context: `${d.first.fn} of ${d.what}, in ${d.first.realm} ${d.first.where || ""}`.trim() }),
      `${rt.rules[id].description} ${d.first.fn} of ${d.what}: ${Math.round(d.rate).toLocaleString("en")} calls/s ` +
      `(mean per thread) in ${realms.length} thread(s) for ${d.reports.length} report(s) of about a second; ` +
      `${d.nonce} of ${d.pairs} sampled input pairs differed only in a nonce field; page CPU ${cpuShare.toFixed(2)} cores.`));
  }
  if (hots.length && !loops.length) {
    const d = describe(hots.reduce((a, b) => (sumOf(b.flat(), (r) => r.calls) > sumOf(a.flat(), (r) => r.calls) ? b : a)));
    const id = "runtime.wasm.hot-export";
    out.push(runtimeFinding(c, id, location(d.first.where || page, { context: `${d.first.fn} of ${d.what}` }),
      `${rt.rules[id].description} ${d.first.fn} of ${d.what}: ${Math.round(d.rate).toLocaleString("en")} calls/s in ` +
      `${d.realms} thread(s); ` +
      `${d.nonce} of ${d.pairs} sampled input pairs looked like a nonce.`));
  }
}

// --- one tab ----------------------------------------------------------------------------------

/**
 * Findings, summaries and the verdict for one tab's observations:
 *   obs = {url, loads: [{url, context}], sockets: [{url, where}], frames: [{url, dir, data, t, socket?}],
 *          workers: [{url, kind, where, src}], wasm: [{sha256, size, url, where, realm, api,
 *          findings, summary, sightings, key}], cpu: cpuSummary(...), calls: [the hook's call
 *          reports], window_s: how long the page has been watched (the crawler's window),
 *          cpuSamples: the busy-time samples cpu was summarised from (for the CPU between a
 *          cycle's first job and last share), cpuFrom / cpuEnd: a closed window's bounds}
 * Wasm findings arrive precomputed (analyseWasm runs once per module, not per evaluation).
 */
export function judgeTab(c, obs) {
  const findings = [];
  const parsed = new Map();  // frame -> its JSON values: decoded once per evaluation, for both readers
  const valuesOf = (f) => { let v = parsed.get(f); if (!v) { v = decodeFrame(f.data); parsed.set(f, v); } return v; };
  const { jobs, submits } = protocolFindings(c, obs.frames, findings, valuesOf);
  for (const m of obs.wasm) {
    findings.push(...m.findings);
    const ctx = `captured at runtime: ${m.api} in ${m.realm} ${m.where}; sha256 ${m.sha256.slice(0, 16)}`;
    findings.push(runtimeFinding(c, "runtime.wasm.compiled", location(m.url || m.where || obs.url, { context: ctx }),
      `${c.runtime.rules["runtime.wasm.compiled"].description} Compiled in ${m.sightings} place(s); ${m.size} bytes.`));
  }
  const blob = obs.workers.filter((w) => w.url.startsWith("blob:"));
  if (blob.length) {
    findings.push(runtimeFinding(c, "runtime.worker.blob", location(blob[0].where || obs.url, { context: `worker ${blob[0].url}` }),
      `${c.runtime.rules["runtime.worker.blob"].description} ${blob.length} such worker(s).`, blob[0].src));
  }
  const groups = new Map();
  for (const w of obs.workers) if (w.kind === "dedicated" || w.kind === "module") push(groups, w.src || w.url, w);
  const biggest = [...groups.values()].reduce((a, b) => (b.length > a.length ? b : a), []);
  if (biggest.length >= 2) {
    findings.push(runtimeFinding(c, "runtime.worker.pool", location(biggest[0].where || obs.url, { context: `worker ${biggest[0].url}` }),
      `${c.runtime.rules["runtime.worker.pool"].description} ${biggest.length} workers ran the same script.`));
  }
  if (obs.sockets.length) {
    const s = obs.sockets[0];
    findings.push(runtimeFinding(c, "runtime.websocket.open", location(s.url, { context: `opened by ${s.where || "the page"}` }),
      `${c.runtime.rules["runtime.websocket.open"].description} ${obs.sockets.length} socket(s).`));
  }
  const loads = [...obs.loads,
    ...obs.sockets.map((s) => ({ url: s.url, context: `WebSocket opened by ${s.where || "the page"}` })),
    ...obs.workers.filter((w) => !/^(blob|data):/.test(w.url)).map((w) => ({ url: w.url, context: `${w.kind} worker started by ${w.where}` })),
    ...obs.wasm.filter((m) => m.url).map((m) => ({ url: m.url, context: "WebAssembly streamed by the page" }))];
  const seen = new Set();
  for (const l of loads) {
    for (const r of matchUrl(c, l.url)) {
      const key = r.id + " " + l.url;
      if (seen.has(key)) continue;
      seen.add(key);
      findings.push(finding(r, "domain", location(l.url, { context: l.context }), { excerpt: l.url }));
    }
  }
  const cpu = obs.cpu;
  hashLoopFindings(c, obs.calls || [], obs.wasm, cpu.share ?? cpu.mean, obs.window_s ?? c.runtime.cpu_window_s, obs.url, findings);
  jobshareFindings(c, obs, findings, valuesOf);
  if (cpu.sustained) {
    findings.push(runtimeFinding(c, "runtime.cpu.sustained", location(obs.url, { context: "busy time reported by the page's threads, workers included" }),
      `${c.runtime.rules["runtime.cpu.sustained"].description} ${cpu.seconds.toFixed(1)} CPU s over ${cpu.window_s.toFixed(1)} s: ` +
      `mean ${Math.round(cpu.mean * 100)}% of a core over the busiest ${cpu.span_s} s, peak ${Math.round(cpu.peak * 100)}%.`));
  }
  const verdict = judge(findings, c.verdict);
  verdict.pool_jobs = jobs;
  verdict.pool_submits = submits;
  return verdict;
}

/** Findings and the WasmSummary of one captured module (webscan/wasm/engine.py's analyse). */
export function analyseWasm(c, u8, sha256, target, context) {
  const loc = location(target, { context });
  const summary = { sha256, size: u8.length, location: loc, functions: 0, instructions: 0, xor_share: 0,
                    rotates_per_1000: 0, primitives: [], imports: [], exports: [] };
  if (u8.length > wasm.MAX_MODULE) return { summary, findings: [], note: `module over ${wasm.MAX_MODULE} bytes: not decoded` };
  let f;
  try {
    f = wasm.facts(u8, c.wasm);
  } catch (e) {
    return { summary, findings: [], note: `not a well-formed WebAssembly module: ${e.message}` };
  }
  const m = f.module;
  Object.assign(summary, { functions: m.functions, instructions: m.instructions, xor_share: f.xor_share,
                           rotates_per_1000: f.rotates_per_1000, primitives: Object.keys(f.primitives).sort(),
                           imports: m.imports.slice(0, 200), exports: m.exports.slice(0, 200) });
  const findings = wasm.evaluate(f, c.wasm.rules).map(({ rule, detail }) => finding(rule, "wasm", loc,
    { message: detail ? `${rule.description} Seen: ${detail}.` : null, excerpt: detail || null }));
  const notes = [];
  if (m.badBodies) notes.push(`${m.badBodies} function bodies did not decode`);
  if (f.miningSkipped) notes.push(`more than ${c.wasm.mining.max_code_bytes >> 20} MiB of code; the search for a nonce loop was skipped (the other rules ran)`);
  return { summary, findings, note: notes.length ? notes.join("; ") : null, facts: f };
}

/**
 * CPU from busy-time samples [{t: s since page start when received, busy_ms, span_ms}]: each
 * sample's busy time is spread over the span it covers, then summed per second (all threads).
 *
 * One definition with the crawler (webscan/browser/evidence.py): CPU is judged over a whole
 * observation window. A closed window (a crawler visit, a conformance case: `closed` = the
 * time its sampling began) is judged by its mean over the sampled span, as evidence.py does;
 * a live tab's window is open, so it is judged over its busiest span of cpu_window_s seconds
 * (the crawler's window) and not before it has been watched that long: a file hashed in a 2 s
 * burst is not sustained CPU on either side.
 */
export function cpuSummary(c, samples, nowS, closed = null) {
  const buckets = new Map();
  for (const s of samples) {
    const end = s.t, start = Math.max(0, end - (s.span_ms || 1000) / 1000), len = Math.max(1e-3, end - start);
    for (let k = Math.floor(start); k < end; k++) {
      const overlap = Math.min(end, k + 1) - Math.max(start, k);
      if (overlap > 0) buckets.set(k, (buckets.get(k) || 0) + s.busy_ms * overlap / len);
    }
  }
  const window = Math.max(0, nowS);
  const last = Math.floor(window);
  const series = [];
  let seconds = 0, peak = 0;
  for (let k = 0; k < last; k++) {
    const share = (buckets.get(k) || 0) / 1000;
    seconds += share;
    peak = Math.max(peak, share);
    series.push({ t: k + 1, share: Math.round(share * 1000) / 1000 });
  }
  const rt = c.runtime, W = rt.cpu_window_s;
  if (closed !== null) {
    const from = Number(closed), total = samples.reduce((n, s) => n + s.busy_ms, 0) / 1000;
    const len = nowS - from;  // idle realms send nothing: the window ends when the visit did
    const ok = samples.length >= 1 && len >= rt.min_cpu_span_s;
    const mean = ok ? total / len : 0;
    return { series: series.slice(-120), seconds: Math.round(total * 1000) / 1000, window_s: Math.round(len * 100) / 100,
             peak: Math.round(peak * 1000) / 1000, mean, span_s: Math.round(len * 100) / 100,
             share: len > 0 ? total / len : 0, sustained: ok && mean >= rt.cpu_share_threshold };
  }
  // The busiest span of cpu_window_s seconds: a miner keeps it, a load burst does not.
  const span = last >= W ? W : 0;
  let mean = 0;
  if (span) {
    let sum = 0;
    for (let k = 0; k < last; k++) {
      sum += series[k].share;
      if (k >= span) sum -= series[k - span].share;
      if (k >= span - 1) mean = Math.max(mean, sum / span);
    }
  }
  return { series: series.slice(-120), seconds: Math.round(seconds * 1000) / 1000, window_s: Math.round(window * 100) / 100,
           peak: Math.round(peak * 1000) / 1000, mean, span_s: span, share: mean,
           sustained: span > 0 && mean >= rt.cpu_share_threshold };
}

// --- verdict ----------------------------------------------------------------------------------

function dedupe(findings) {
  const seen = new Set(), out = [];
  for (const f of findings) {
    const l = f.location;
    const key = JSON.stringify([f.rule, l.target, l.line ?? null, l.column ?? null, l.wasm_function ?? null, l.context ?? null]);
    if (!seen.has(key)) { seen.add(key); out.push(f); }
  }
  return out;
}

/** Noisy-OR of the strongest weight per category; capability groups capped. */
export function scoreFindings(findings, v) {
  const best = {};
  for (const f of findings) {
    const cat = v.categories[f.category];
    if (cat) best[f.category] = Math.max(best[f.category] || 0, cat.weight);
  }
  let remaining = 1;
  const grouped = new Set();
  for (const g of Object.values(v.groups)) {
    let inside = 1;
    for (const cname of g.categories) if (cname in best) { inside *= 1 - best[cname]; grouped.add(cname); }
    remaining *= 1 - Math.min(g.cap, 1 - inside);
  }
  for (const [cname, w] of Object.entries(best)) if (!grouped.has(cname)) remaining *= 1 - w;
  return { score: Math.round((1 - remaining) * 1e4) / 1e4, cats: best };
}

/** The label, as webscan.verdict.judge: a miner needs the threshold AND a strong category. */
export function judge(findings, v) {
  const weight = (f) => (v.categories[f.category] ? v.categories[f.category].weight : 0);
  const sorted = dedupe(findings).sort((a, b) => weight(b) - weight(a) || SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  const { score, cats } = scoreFindings(sorted, v);
  const strong = Object.keys(cats).filter((k) => v.categories[k].strong).sort();
  // Evidence a browser never runs (a miner call in a comment) may make `suspicious`, but it
  // must not tip strong code over the miner threshold: judged without it, as verdict.py does.
  const inert = new Set(Object.keys(cats).filter((k) => v.categories[k].miner_evidence === false));
  const minerScore = inert.size ? scoreFindings(sorted.filter((f) => !inert.has(f.category)), v).score : score;
  let label = "clean";
  if (minerScore >= v.miner_threshold && strong.length >= v.miner_min_strong
      && Object.keys(cats).length - inert.size >= v.miner_min_categories) label = "miner";
  else if (score >= v.suspicious_threshold || strong.length) label = "suspicious";
  return { label, score, strong, categories: cats, findings: sorted, explanation: explain(label, score, cats, strong, sorted) };
}

function gist(message, limit = 110) {
  let t = message.split(/\s+/).filter(Boolean).join(" ");
  const cut = t.indexOf(". ");
  t = (cut < 0 ? t : t.slice(0, cut)).replace(/\.+$/, "");
  return t.length <= limit ? t : t.slice(0, limit - 1) + "\u2026";
}

function explain(label, score, cats, strong, findings) {
  if (!findings.length) return "No evidence of mining found.";
  const ranked = Object.keys(cats).sort((a, b) => cats[b] - cats[a]);
  const parts = ranked.slice(0, 4).map((cname) => {
    const top = findings.find((f) => f.category === cname);
    return `${cname} (${top.rule}: ${gist(top.message)})`;
  });
  const head = { miner: `Mining (ATT&CK T1496): strong evidence from ${strong.join(", ")}`,
                 suspicious: "Suspicious: evidence is not conclusive for mining",
                 clean: "Clean: only weak, common signals" }[label];
  const more = ranked.length > 4 ? `; and ${ranked.length - 4} more categories` : "";
  return `${head}; score ${score.toFixed(2)}. Evidence: ${parts.join("; ")}${more}.`;
}

// --- conformance cases ------------------------------------------------------------------------

/**
 * A conformance case (tests/conformance/*.json, webscan/extension/conformance.py) judged as a tab:
 * the same observations the Python side turns into an Observation. `bytesOf(entry)` gives a
 * Wasm entry's module bytes (the caller reads files; this module does no I/O).
 */
export function judgeCase(c, kase, bytesOf) {
  const wasmSeen = new Map();
  for (const m of kase.wasm || []) {
    if (wasmSeen.has(m.sha256)) { wasmSeen.get(m.sha256).sightings++; continue; }
    const u8 = bytesOf(m);
    const target = m.url || m.where || kase.page;
    const ctx = `captured at runtime: ${m.api} in ${m.realm} ${m.where || ""}; sha256 ${m.sha256.slice(0, 16)}`;
    const a = analyseWasm(c, u8, m.sha256, target, ctx);
    wasmSeen.set(m.sha256, { sha256: m.sha256, key: m.key || "", size: u8.length, url: m.url || null, where: m.where || "",
                             realm: m.realm, api: m.api, sightings: 1, findings: a.findings, summary: a.summary });
  }
  const cpu = cpuSummary(c, kase.cpu || [], kase.window_s + (kase.cpu_from || 0), kase.cpu_from || 0);
  return judgeTab(c, {
    url: kase.page, loads: kase.loads || [],
    sockets: (kase.sockets || []).map((s) => ({ url: s.url, where: s.where || "" })),
    frames: (kase.frames || []).filter((f) => !f.binary).map((f) => ({ url: f.url, dir: f.dir, data: f.data, t: f.t || 0, socket: f.socket || "" })),
    cpuSamples: kase.cpu || [], cpuFrom: kase.cpu_from || 0, cpuEnd: kase.window_s + (kase.cpu_from || 0),
    workers: (kase.workers || []).map((w) => ({ url: w.url, kind: w.kind, where: w.where || "", src: w.src || null })),
    wasm: [...wasmSeen.values()], cpu, window_s: kase.window_s,
    calls: (kase.calls || []).map((r) => ({ k: r.k || "", fn: r.fn, rid: r.rid || "", calls: r.calls, span: r.span,
                                            pairs: r.pairs || 0, nonce: r.nonce || 0, where: r.where || "", realm: r.realm || "worker" })),
  });
}
