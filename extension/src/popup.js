// The popup: what was found on the current tab's page, and the stop / allow actions.
// Opened as the action popup, or as popup.html?tab=ID (tests, and a pinned tab).
const $ = (id) => document.getElementById(id);

function li(list, text, code) {
  const el = document.createElement("li");
  el.textContent = text;
  if (code) { const c = document.createElement("code"); c.textContent = code; el.append(" ", c); }
  list.append(el);
}

async function tabId() {
  const q = new URLSearchParams(location.search).get("tab");
  if (q) return Number(q);
  const [t] = await chrome.tabs.query({ active: true, currentWindow: true });
  return t ? t.id : -1;
}

function render(st) {
  $("site").textContent = st.site ? `on ${st.site}` : "";
  const r = st.result;
  const label = st.allowed ? "allowed" : r ? r.label : "clean";
  $("verdict").textContent = label;
  $("verdict").className = `verdict ${label}`;
  $("score").textContent = r ? `score ${r.score.toFixed(2)}` : "";
  $("explain").textContent = st.allowed ? "You allowed this site: webscan does not judge it."
    : r ? r.explanation : "Nothing observed yet.";
  if (!r || st.allowed) return;
  $("evidence").hidden = false;
  $("actions").hidden = r.label === "clean";
  const byKind = (k) => r.findings.filter((f) => f.kind === k);
  for (const f of byKind("domain")) li($("scripts"), `${f.location.context || "loaded"}: ${f.rule}`, f.location.target);
  if (!byKind("domain").length) li($("scripts"), "no script from a known mining service");
  for (const u of st.scripts || []) li($("scripts"), "script", u);
  for (const u of st.workerUrls || []) li($("scripts"), "worker", u);
  for (const m of r.wasm_modules) {
    li($("modules"), `${m.size} bytes, ${m.functions} functions, primitives: ${m.primitives.join(", ") || "none"}; sha256`, m.sha256);
  }
  if (!r.wasm_modules.length) li($("modules"), "none compiled");
  const proto = byKind("protocol");
  for (const f of proto) li($("pools"), `${f.rule} at`, f.location.target);
  for (const s of st.sockets) if (!proto.some((f) => f.location.target === s.url)) li($("pools"), "socket", s.url);
  if (!proto.length && !st.sockets.length) li($("pools"), "no socket opened");
  li($("cpu"), `${st.workers} worker(s); CPU ${r.cpu.seconds.toFixed(1)} s over ${r.cpu.window_s.toFixed(0)} s, peak ${Math.round(r.cpu.peak * 100)}% of a core`);
  for (const f of r.findings) li($("findings"), `[${f.severity}] ${f.rule}: ${f.message}`);
  if (st.blocked) $("status").textContent = `Stopped on this site (${st.blocked.mode}).`;
}

async function main() {
  const id = await tabId();
  const st = await chrome.runtime.sendMessage({ type: "state", tabId: id });
  if (!st || !st.known) { $("verdict").textContent = "no data"; $("explain").textContent = "webscan has not seen this page load (reload it)."; return; }
  render(st);
  $("stop").onclick = async () => {
    const r = await chrome.runtime.sendMessage({ type: "stop", tabId: id, mode: $("mode").value });
    $("status").textContent = r.ok ? (r.mode === "block" ? "Blocked and reloading." : "Stopped: workers ended, sockets closed.") : r.error;
  };
  $("allow").onclick = async () => {
    const r = await chrome.runtime.sendMessage({ type: "allow", tabId: id });
    $("status").textContent = r.ok ? "Allowed: webscan will leave this site alone." : r.error;
  };
}
main();
