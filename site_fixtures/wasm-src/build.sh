#!/usr/bin/env bash
# Rebuild the proof-of-work fixtures (miners of non-CryptoNight families and their benign
# look-alikes) from the C sources here, reproducibly (Debian clang 14 + lld). The .wasm outputs
# are committed in site_fixtures/wasm/ (pow-*.wasm miners, look-*.wasm look-alikes); run this
# after editing a source. tests/test_wasm_pow.py rebuilds into a temporary folder and compares.
#   bash site_fixtures/wasm-src/build.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")"
OUT=${1:-../wasm}
CC=(clang --target=wasm32 -O2 -nostdlib -ffreestanding -mbulk-memory -Wall -Werror
    -Wno-unused-function -fno-ident -ffile-prefix-map="$PWD"=. -I. -I../wasm/src
    -Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-all)
for src in pow_sha256d pow_scrypt pow_equihash pow_argon2d \
           look_argon2 look_scrypt look_hashlib look_wallet look_cipher; do
  "${CC[@]}" "$src.c" -o "$OUT/${src/_/-}.wasm"
done
