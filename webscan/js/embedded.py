"""Find WebAssembly hidden inside JavaScript: base64, data: URLs, hex strings, byte arrays.

Miners inline their hashing module so there is no .wasm file to block or to scan. The magic
number b"\\0asm" survives every one of these encodings in a recognisable form (base64 always
starts "AGFzbQ" when the module starts on a 3-byte boundary, as it does at a literal's start),
so we look for that form and decode only what follows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webscan.js.deobfuscate import Decoded, b64decode_loose

WASM_MAGIC = b"\0asm"
MAX_MODULE = 32 * 1024 * 1024
"""Largest inlined module decoded; a bigger one is reported as truncated by the Wasm engine."""
MAX_MODULES = 32

_B64_RUN = re.compile(rb"AGFzbQ[A-Za-z0-9+/]{2,}+={0,2}")
_B64_RUN_STR = re.compile(r"AGFzbQ[A-Za-z0-9+/]{2,}+={0,2}")
_HEX_RUN = re.compile(rb"0061736[dD](?:[0-9A-Fa-f]{2}){4,}+")
_NUM = rb"\s*+(?:0[xX][0-9A-Fa-f]{1,2}|\d{1,3})\s*+"
_BYTE_ARRAY = re.compile(
    rb"\[\s*+(?:0[xX]0{1,2}|0)\s*+,\s*+(?:0[xX]61|97)\s*+,\s*+(?:0[xX]73|115)\s*+,\s*+(?:0[xX]6[dD]|109)"
    rb"(?:\s*+," + _NUM + rb")*+"
)
_NUM_TOKEN = re.compile(rb"0[xX][0-9A-Fa-f]{1,2}|\d{1,3}")


@dataclass
class EmbeddedWasm:
    data: bytes
    start: int  # byte offset in the analysed source
    how: str  # "base64 literal", "byte array", ...


def small_int(token: bytes) -> int:
    """The value of a short JS number token (hex, or decimal up to 3 digits) as a script reads it.

    `03` and `010` are legacy octal literals (3 and 8) in sloppy-mode scripts, and `08` is
    decimal; int(token, 0) raises on all of them, which cost a whole file an internal error.
    """
    if token[:2] in (b"0x", b"0X"):
        return int(token, 16)
    if len(token) > 1 and token[:1] == b"0" and not token.strip(b"01234567"):
        return int(token, 8)
    return int(token)


def _bytes_of_array(text: bytes) -> bytes | None:
    vals = []
    for t in _NUM_TOKEN.findall(text):
        v = small_int(t)
        if v > 255:
            return None
        vals.append(v)
    return bytes(vals)


def find_embedded_wasm(src: bytes, decoded: list[Decoded] = ()) -> list[EmbeddedWasm]:
    """Every inlined Wasm module in the source and in strings recovered by de-obfuscation."""
    out: list[EmbeddedWasm] = []
    seen: set[bytes] = set()

    def add(data: bytes | None, start: int, how: str) -> None:
        if not data or not data.startswith(WASM_MAGIC) or len(out) >= MAX_MODULES:
            return
        key = data[:64] + len(data).to_bytes(8, "little")
        if key in seen:
            return
        seen.add(key)
        out.append(EmbeddedWasm(data[:MAX_MODULE], start, how))

    for m in _B64_RUN.finditer(src):
        run = m.group(0)[: MAX_MODULE * 4 // 3 + 4]
        data_url = src[max(0, m.start() - 40):m.start()].endswith(b"base64,")
        add(b64decode_loose(run.decode("ascii"), MAX_MODULE), m.start(),
            "data: URL" if data_url else "base64 literal")
    for m in _HEX_RUN.finditer(src):
        if m.start() and src[m.start() - 1] in b"0123456789abcdefABCDEF":
            continue
        run = m.group(0)[: MAX_MODULE * 2]
        add(bytes.fromhex(run[: len(run) // 2 * 2].decode("ascii")), m.start(), "hex string")
    for m in _BYTE_ARRAY.finditer(src):
        add(_bytes_of_array(m.group(0)[: MAX_MODULE * 5]), m.start(), "numeric byte array")
    for d in decoded:
        if d.raw is not None:
            add(d.raw, d.start, f"{d.how}")
        text = d.text
        if text.startswith(WASM_MAGIC.decode("latin-1")):
            add(text.encode("latin-1", "replace"), d.start, d.how)
        for m in _B64_RUN_STR.finditer(text):
            add(b64decode_loose(m.group(0), MAX_MODULE), d.start, f"base64 in {d.how}")
    # a literal split by concatenation is seen both in pieces and whole: keep the whole
    return [m for m in out if not any(o is not m and len(o.data) > len(m.data)
                                      and o.data.startswith(m.data) for o in out)]
