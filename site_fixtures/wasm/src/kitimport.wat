;; A miner-kit glue shape: the hashing core is imported by name from another module (as split
;; Emscripten builds do) and driven in a nonce loop. Only the names matter here.
(module
  (import "env" "_cryptonight_hash" (func $hash (param i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "run") (param $blob i32) (param $out i32) (param $count i32)
    (local $i i32)
    (loop $next
      (i32.store offset=39 (local.get $blob) (local.get $i))
      (call $hash (local.get $blob) (i32.const 76) (local.get $out))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $count))))))
