// The audit page's progress: polls GET /v1/audits/{id} and, once the audit is over, puts the
// server-rendered verdict (/audits/{id}/result) in place, without reloading the page.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  if (!section || section.hidden) return;
  var id = section.getAttribute("data-audit");
  var win = section.getAttribute("data-window");
  var stageText = document.getElementById("stage");
  var order = ["queued", "loading", "judging"];
  var words = {
    queued: "Waiting in the queue",
    starting: "Starting a browser",
    loading: "Loading the page, then watching it for " + win + " s",
    judging: "Judging what the browser saw"
  };
  var delay = 1000;

  function show(step) {
    stageText.textContent = (words[step] || "Running") + "…";
    var at = order.indexOf(step === "starting" ? "loading" : step);
    var items = document.querySelectorAll("#steps li");
    for (var i = 0; i < items.length; i++) {
      items[i].className = i < at ? "past" : (i === at ? "now" : "");
    }
    section.setAttribute("data-stage", step);
    var seen = section.getAttribute("data-seen") || "";
    if (seen.split(" ").indexOf(step) < 0) section.setAttribute("data-seen", (seen + " " + step).trim());
  }

  function finish() {
    fetch("/audits/" + id + "/result").then(function (r) { return r.text(); }).then(function (html) {
      document.getElementById("result").innerHTML = html;
      section.hidden = true;
      var heading = document.getElementById("verdict-title");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
    });
  }

  function poll() {
    fetch("/v1/audits/" + id, {headers: {"Accept": "application/json"}}).then(function (r) {
      if (r.status === 429) { delay = Math.min(delay * 2, 10000); return null; }
      return r.json();
    }).then(function (audit) {
      if (audit) {
        delay = 1000;
        if (audit.status === "done" || audit.status === "failed") { show("judging"); finish(); return; }
        show(audit.status === "queued" ? "queued" : (audit.stage || "starting"));
      }
      setTimeout(poll, delay);
    }).catch(function () { setTimeout(poll, Math.min(delay * 2, 10000)); });
  }

  show(section.getAttribute("data-status") === "queued" ? "queued" : "starting");
  poll();
})();
