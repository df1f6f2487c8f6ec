// Benign: an anti-miner content script. It names miner kits and their domains in order to block them.
var MINER_HOSTS = ["coinhive.com", "authedmine.com", "crypto-loot.com", "coinimp.com", "webmine.cz"];
var MINER_GLOBALS = ["CoinHive", "CryptoLoot", "CoinImp", "deepMiner"];

function isMinerUrl(url) {
  try {
    var host = new URL(url, location.href).hostname;
    return MINER_HOSTS.some(function (h) { return host === h || host.endsWith("." + h); });
  } catch (e) { return false; }
}

document.querySelectorAll("script[src]").forEach(function (s) {
  if (isMinerUrl(s.src)) { s.remove(); report("blocked miner script " + s.src); }
});
MINER_GLOBALS.forEach(function (name) {
  if (window[name]) { report("miner library present: " + name); }
});
if (window.CoinHive && window.CoinHive.Anonymous) {
  report("CoinHive API detected on this page");
}
function report(text) { chrome.runtime.sendMessage({ kind: "miner-warning", text: text }); }
