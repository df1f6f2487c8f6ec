// webscan fixture: the service worker of /egress/every-route.html; its install fetches origin P
// ({{ORIGIN_P}}), and it answers nothing itself.
self.addEventListener("install", function (event) {
  event.waitUntil(fetch("{{ORIGIN_P}}/egress/leak.js?route=sw-fetch", { mode: "no-cors" }).then(
    function () {}, function () {}));
});
