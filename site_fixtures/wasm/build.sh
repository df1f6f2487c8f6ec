#!/usr/bin/env bash
# Rebuild the Wasm fixtures from source, reproducibly (Debian clang 14 + lld, wasmtime's
# wat2wasm for the WAT file). The .wasm outputs are committed; run this after editing src/.
#   bash site_fixtures/wasm/build.sh
set -euo pipefail
cd "$(dirname "$0")"
python3 gen_constants.py >/dev/null   # src/tables.h and signatures/constants.yaml
CC=(clang --target=wasm32 -O2 -nostdlib -ffreestanding -mbulk-memory -Wall -Werror
    -Wno-unused-function -fno-ident -ffile-prefix-map="$PWD"=. -Isrc
    -Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-debug)
# A miner with kit-like export names, and the same code with bland names and no name section.
"${CC[@]}" -DNAMED=1 src/pow.c -o miner.wasm
"${CC[@]}" -DNAMED=0 -Wl,--strip-all src/pow.c -o worker.wasm
# The light variant (1 MiB scratchpad), bland names.
"${CC[@]}" -DNAMED=0 -DSCRATCHPAD=1048576 -Wl,--strip-all src/pow.c -o worker-lite.wasm
# Benign look-alikes.
"${CC[@]}" src/sha3lib.c -o sha3lib.wasm
"${CC[@]}" src/blake2b.c -o blake2b.wasm
"${CC[@]}" src/wallet.c -o wallet.wasm
"${CC[@]}" src/multihash.c -o multihash.wasm
"${CC[@]}" src/rxlike.c -o rxlike.wasm
"${CC[@]}" src/nbody.c -o nbody.wasm
"${CC[@]}" src/blur.c -o blur.wasm
# Runtime proof-of-work fixtures: a SHA-256d header hash whose nonce loop lives in the page's
# JavaScript, the same SHA-256 as a streaming file hasher, and a game loop (benign).
"${CC[@]}" -DPOW=1 -Wl,--strip-all src/sha256kit.c -o hdr.wasm
"${CC[@]}" -DPOW=0 -Wl,--strip-all src/sha256kit.c -o filehash.wasm
"${CC[@]}" -Wl,--strip-all src/game.c -o game.wasm
python3 - <<'PY'
import wasmtime
for name in ("features", "kitimport"):
    src = open(f"src/{name}.wat").read()
    open(f"{name}.wasm", "wb").write(wasmtime.wat2wasm(src))
PY
ls -l ./*.wasm
