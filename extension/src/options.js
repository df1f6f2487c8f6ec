// Options: service URL, reporting (off by default), allowlist; shows the last report verbatim.
const $ = (id) => document.getElementById(id);
const DEFAULTS = { service: "", reporting: false, allowlist: [], blocked: {} };

async function load() {
  const { settings } = await chrome.storage.local.get("settings");
  const s = { ...DEFAULTS, ...(settings || {}) };
  $("service").value = s.service;
  $("reporting").checked = !!s.reporting;
  $("allowlist").value = s.allowlist.join("\n");
  $("blocked").replaceChildren(...Object.entries(s.blocked).map(([host, b]) => {
    const li = document.createElement("li");
    li.textContent = `${host} (${b.mode}, since ${b.since}) `;
    const undo = document.createElement("button");
    undo.textContent = "unblock";
    undo.onclick = async () => { delete s.blocked[host]; await chrome.storage.local.set({ settings: s }); load(); };
    li.append(undo);
    return li;
  }));
  const q = await chrome.runtime.sendMessage({ type: "queue" });
  if (q && q.lastReport) $("last").textContent = JSON.stringify(q.lastReport, null, 2);
  if (q) $("queue").textContent = `${q.queue.length} report(s) waiting to be sent` +
    (q.lastReportStatus ? `; last attempt ${q.lastReportStatus.at}: HTTP ${q.lastReportStatus.status || "no answer"}` : "");
}

$("save").onclick = async () => {
  const url = $("service").value.trim().replace(/\/+$/, "");
  if (url && !/^https?:\/\/[^\s/]+/.test(url)) { $("status").textContent = "The service URL must start with http:// or https://"; return; }
  const { settings } = await chrome.storage.local.get("settings");
  const s = { ...DEFAULTS, ...(settings || {}) };
  s.service = url;
  s.reporting = $("reporting").checked;
  s.allowlist = [...new Set($("allowlist").value.split(/\s+/).map((h) => h.trim().toLowerCase()).filter(Boolean))];
  await chrome.storage.local.set({ settings: s });
  await chrome.runtime.sendMessage({ type: "settings-changed" });
  $("status").textContent = "Saved.";
  load();
};
load();
