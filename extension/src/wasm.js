/*
 * WebAssembly facts for the background scorer: a bounded port of webscan/wasm (decoder +
 * constant matcher + wasm rules + the nonce-loop search of mining.py), so every Wasm rule holds
 * in the extension exactly when it holds in Python.
 *
 * Why a port and not the service: captured modules are judged on the user's machine, so the
 * badge never waits for a network and no module bytes ever leave the browser. The opcode
 * immediate shapes come from webscan.wasm.decoder through the build (rules.opcodes), so the
 * two decoders cannot drift apart; tests/test_extension_scorer.py compares both on every
 * fixture module.
 *
 * Bounds: modules over MAX_MODULE bytes are summarised (size, hash) but not decoded; a body
 * that does not decode is skipped and counted (the rest of the module still counts); the
 * nonce-loop search reads at most rules.mining.max_code_bytes of code and walks at most
 * walk_budget instructions step by step (about 1 s for a 6 MB wallet module, in the
 * background worker, never in the page).
 */

export const MAX_MODULE = 16 << 20;
const U32 = 0xffffffffn;

class DecodeError extends Error {}

/** A cursor over bytes, every read bounds-checked. */
class Reader {
  constructor(u8, pos = 0, end = u8.length) { this.u8 = u8; this.pos = pos; this.end = end; }
  byte() {
    if (this.pos >= this.end) throw new DecodeError(`unexpected end at byte ${this.pos}`);
    return this.u8[this.pos++];
  }
  u32() {  // unsigned LEB128, up to 5 bytes
    let result = 0, shift = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return result;
      shift += 7;
    }
    throw new DecodeError(`LEB128 too long at byte ${this.pos}`);
  }
  skipLeb(max) {
    for (let i = 0; i < max; i++) if (!(this.byte() & 0x80)) return;
    throw new DecodeError(`LEB128 too long at byte ${this.pos}`);
  }
  sleb(bits) {  // signed LEB128 as a BigInt, normalised to unsigned `bits` (i32 -> u32, i64 -> u64)
    let result = 0n, shift = 0n, b;
    const max = Math.ceil(bits / 7);
    for (let i = 0; ; i++) {
      if (i >= max) throw new DecodeError(`LEB128 too long at byte ${this.pos}`);
      b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (!(b & 0x80)) break;
    }
    if (b & 0x40) result -= 1n << shift;
    return BigInt.asUintN(bits, result);
  }
  bytes(n) {
    if (this.pos + n > this.end) throw new DecodeError(`unexpected end at byte ${this.pos}`);
    const out = this.u8.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  name() { return new TextDecoder().decode(this.bytes(this.u32())); }
}

/** Immediate shapes by opcode, from the build's copy of webscan.wasm.decoder's tables. */
export function compileOpcodes(op) {
  const core = new Map(Object.entries(op.core).map(([k, v]) => [Number(k), v]));
  const prefixed = new Map(Object.entries(op.prefixed).map(
    ([p, t]) => [Number(p), new Map(Object.entries(t).map(([k, v]) => [Number(k), v]))]));
  return { core, prefixed, xor: new Set(op.xor), rotate: new Set(op.rotate) };
}

function valtype(r) {
  const b = r.byte();
  if (b === 0x63 || b === 0x64) r.skipLeb(5);
}

function limits(r) {
  const flags = r.byte();
  r.skipLeb(10);
  if (flags & 1) r.skipLeb(10);
  if (flags & 8) r.skipLeb(5);
}

/** Bytes as a string of char codes 0-255: instruction tokens compare and hash like Python's bytes. */
function latin1(u8, from, to) {
  let out = "";
  for (let i = from; i < to; i += 4096) out += String.fromCharCode.apply(null, u8.subarray(i, Math.min(to, i + 4096)));
  return out;
}

/**
 * Walk instructions from r.pos to r.end (or, with `untilEnd`, to the `end` closing depth 0).
 * Counts xor/rotate opcodes and collects i32/i64 constants (BigInt, unsigned).
 */
function walk(r, ops, acc, untilEnd) {
  let depth = 0;
  while (r.pos < r.end) {
    const at = r.pos;
    const op = r.byte();
    let key = op, shape;
    if (ops.prefixed.has(op)) {
      const sub = r.u32();
      shape = ops.prefixed.get(op).get(sub);
      key = op * 65536 + sub;
    } else {
      shape = ops.core.get(op);
    }
    if (shape === undefined) throw new DecodeError(`unknown opcode 0x${key.toString(16)} at byte ${r.pos}`);
    acc.instructions++;
    if (ops.xor.has(key)) acc.xor++;
    if (ops.rotate.has(key)) acc.rotate++;
    switch (shape) {
      case "NONE": break;
      case "U32": case "HEAP": r.skipLeb(5); break;
      case "U32X2": r.skipLeb(5); r.skipLeb(5); break;
      case "I32": acc.consts.add(r.sleb(32)); break;
      case "I64": {
        const v = r.sleb(64);
        acc.consts.add(v);
        if (v >> 31n === 0x1ffffffffn) acc.consts.add(v & U32);  // a widened i32 table
        break;
      }
      case "F32": r.bytes(4); break;
      case "F64": r.bytes(8); break;
      case "MEMARG": { const a = r.u32(); if (a & 0x40) r.skipLeb(5); r.skipLeb(10); break; }
      case "MEMARG_LANE": { const a = r.u32(); if (a & 0x40) r.skipLeb(5); r.skipLeb(10); r.byte(); break; }
      case "BLOCK": { const b = r.byte(); if (b === 0x63 || b === 0x64) r.skipLeb(5); else if (b & 0x80) r.skipLeb(4); depth++; break; }
      case "V128": r.bytes(16); break;
      case "LANE": case "FENCE": r.byte(); break;
      case "BR_ON_CAST": r.byte(); r.skipLeb(5); r.skipLeb(5); r.skipLeb(5); break;
      case "BR_TABLE": { const n = r.u32(); for (let i = 0; i <= n; i++) r.skipLeb(5); break; }
      case "SELECT_T": { const n = r.u32(); for (let i = 0; i < n; i++) valtype(r); break; }
      case "TRY_TABLE": {
        const b = r.byte(); if (b === 0x63 || b === 0x64) r.skipLeb(5); else if (b & 0x80) r.skipLeb(4);
        depth++;
        const n = r.u32();
        for (let i = 0; i < n; i++) { const k = r.byte(); if (k < 2) r.skipLeb(5); r.skipLeb(5); }
        break;
      }
      default: throw new DecodeError(`unhandled immediate shape ${shape}`);
    }
    if (acc.toks) acc.toks.push(latin1(r.u8, at, r.pos));
    if (op === 0x0b && untilEnd) { if (depth === 0) return; depth--; }
    else if (op === 0x0b) depth = Math.max(0, depth - 1);
  }
}

/** Sections, imports, exports, data and the instruction facts of one module. */
export function decode(u8, ops) {
  if (u8.length < 8 || u8[0] !== 0 || u8[1] !== 0x61 || u8[2] !== 0x73 || u8[3] !== 0x6d) {
    throw new DecodeError("not a WebAssembly module (no \\0asm magic)");
  }
  const m = { imports: [], importNames: [], exports: [], functions: 0, instructions: 0, xor: 0, rotate: 0,
              consts: new Set(), data: [], dataAddress: [], badBodies: 0, importedFunctions: 0, bodies: [], codeBytes: 0 };
  const r = new Reader(u8, 8);
  while (r.pos < r.end) {
    const id = r.byte(), size = r.u32(), start = r.pos, end = start + size;
    if (end > u8.length) throw new DecodeError(`section ${id} runs past the end`);
    const s = new Reader(u8, start, end);
    if (id === 2) {
      for (let n = s.u32(); n > 0; n--) {
        const mod = s.name(), name = s.name(), kind = s.byte();
        m.imports.push(`${mod}.${name}`);
        m.importNames.push(name);
        if (kind === 0) { s.skipLeb(5); m.importedFunctions++; }
        else if (kind === 1) { valtype(s); limits(s); }
        else if (kind === 2) limits(s);
        else if (kind === 3) { valtype(s); s.byte(); }
        else if (kind === 4) { s.byte(); s.skipLeb(5); }
        else throw new DecodeError(`unknown import kind ${kind}`);
      }
    } else if (id === 7) {
      for (let n = s.u32(); n > 0; n--) { m.exports.push(s.name()); s.byte(); s.skipLeb(5); }
    } else if (id === 10) {
      for (let n = s.u32(); n > 0; n--) {
        const len = s.u32(), bodyEnd = s.pos + len;
        if (bodyEnd > end) throw new DecodeError("function body runs past its section");
        const index = m.importedFunctions + m.functions++;
        const b = new Reader(u8, s.pos, bodyEnd);
        const acc = { instructions: 0, xor: 0, rotate: 0, consts: new Set() };
        m.codeBytes += len;
        try {
          for (let k = b.u32(); k > 0; k--) { b.skipLeb(5); valtype(b); }
          const code = b.pos;
          walk(b, ops, acc, false);
          m.instructions += acc.instructions; m.xor += acc.xor; m.rotate += acc.rotate;
          for (const v of acc.consts) m.consts.add(v);
          m.bodies.push({ index, code, end: bodyEnd, instructions: acc.instructions });
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
          m.badBodies++;
        }
        s.pos = bodyEnd;
      }
    } else if (id === 11) {
      for (let n = s.u32(); n > 0; n--) {
        const flag = s.u32();
        if (flag === 2) s.skipLeb(5);
        let address = null;
        if (flag !== 1) {  // active: where it lands, when its offset is one plain i32/i64.const
          const acc = { instructions: 0, xor: 0, rotate: 0, consts: new Set() }, first = u8[s.pos];
          walk(s, ops, acc, true);
          if (acc.instructions === 2 && (first === 0x41 || first === 0x42)) address = Number([...acc.consts][0] ?? 0n);
        }
        m.data.push(s.bytes(s.u32()));
        m.dataAddress.push(address);
      }
    }
    r.pos = end;
  }
  return m;
}

/** All data segments joined with an 8-byte gap, as Module.data() does. */
function joinedData(segments) {
  const total = segments.reduce((n, s) => n + s.length, 0) + Math.max(0, segments.length - 1) * 8;
  const out = new Uint8Array(total);
  let pos = 0;
  segments.forEach((s, i) => { if (i) pos += 8; out.set(s, pos); pos += s.length; });
  return out;
}

function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

function indexOf(hay, needle) {
  if (!needle.length || needle.length > hay.length) return -1;
  const first = needle[0], last = hay.length - needle.length;
  outer: for (let i = hay.indexOf(first); i !== -1 && i <= last; i = hay.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The constant sets (constants.yaml), compiled once: webscan/rules/constants.py's ConstantMatcher. */
export function compileConstants(sets) {
  const index = new Map(), words32 = new Set(), values64 = [], patterns = [];
  sets.forEach((s, i) => {
    for (const hex of s.values) {
      const v = BigInt(hex);
      if (!index.has(v)) index.set(v, []);
      index.get(v).push(i);
      if (s.width === 32 && v <= U32) words32.add(Number(v));
      else { words32.add(Number(v & U32)); words32.add(Number(v >> 32n)); values64.push([i, v]); }
    }
    for (const p of s.byte_patterns || []) patterns.push([i, hexBytes(p)]);
  });
  return { sets, index, words32, values64, patterns };
}

/**
 * Primitives present among the code constants and the data bytes: {primitive: {hits, rule, set,
 * values}}: the id and set with the most hits, and the values of its matched sets found in code.
 */
export function matchConstants(cm, consts, data) {
  const found = new Map();  // set index -> Set of values
  const add = (i, v) => { if (!found.has(i)) found.set(i, new Set()); found.get(i).add(v); };
  const inCode = new Set();  // values found among the code's constants (to find the code using them)
  for (const v of consts) for (const i of cm.index.get(v) || []) { add(i, v); inCode.add(v); }
  const patternHits = new Map();
  if (data.length >= 4) {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const present = new Set();
    for (let p = 0; p + 4 <= data.length; p++) {
      const w = dv.getUint32(p, true);
      if (cm.words32.has(w)) present.add(w);
    }
    for (const w of present) {
      for (const i of cm.index.get(BigInt(w)) || []) if (cm.sets[i].width === 32) add(i, BigInt(w));
    }
    for (const [i, v] of cm.values64) {
      if (present.has(Number(v & U32)) && present.has(Number(v >> 32n))) {
        const le = new Uint8Array(8);
        new DataView(le.buffer).setBigUint64(0, v, true);
        if (indexOf(data, le) >= 0) add(i, v);
      }
    }
    for (const [i, p] of cm.patterns) if (indexOf(data, p) >= 0) patternHits.set(i, (patternHits.get(i) || 0) + 1);
  }
  const byPrimitive = new Map();
  for (const i of new Set([...found.keys(), ...patternHits.keys()])) {
    const s = cm.sets[i], n = found.has(i) ? found.get(i).size : 0, p = patternHits.get(i) || 0;
    if (p || (s.values.length && n >= s.min_hits)) {
      if (!byPrimitive.has(s.primitive)) byPrimitive.set(s.primitive, []);
      byPrimitive.get(s.primitive).push([n + p, i]);
    }
  }
  const out = {};
  for (const [prim, hits] of byPrimitive) {
    hits.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const values = new Set();
    for (const [, i] of hits) for (const v of found.get(i) || []) if (inCode.has(v)) values.add(v);
    out[prim] = { hits: hits[0][0], rule: cm.sets[hits[0][1]].id, set: cm.sets[hits[0][1]], values };
  }
  return out;
}

function anyOf(patterns) {
  const res = patterns.map(([src, flags]) => { try { return new RegExp(src, flags); } catch (e) { return null; } })
    .filter(Boolean);
  return res.length ? res : null;
}

/** The wasm rules (wasm.yaml), with their name patterns compiled. */
export function compileWasmRules(rules) {
  return rules.map((r) => ({ rule: r, exports: anyOf(r.export_patterns || []), imports: anyOf(r.import_patterns || []) }));
}

/** Facts for the rules and the WasmSummary: decodes, measures, matches constants. */
export function facts(u8, compiled) {
  const m = decode(u8, compiled.opcodes);
  const n = m.instructions;
  const f = {
    module: m,
    primitives: matchConstants(compiled.constants, m.consts, joinedData(m.data)),
    xor_share: n ? Math.round((m.xor / n) * 1e5) / 1e5 : 0,
    rotates_per_1000: n ? Math.round((1000 * m.rotate / n) * 1e3) / 1e3 : 0,
    miningSkipped: false,
  };
  let loops = null;
  // Nonce loops, found on first use (a code walk of about one more decode, as engine.py does:
  // only a rule whose other conditions held pays for it, up to max_code_bytes of code).
  f.miningLoops = () => {
    if (loops === null) {
      const P = compiled.mining;
      if (!P || m.codeBytes > P.max_code_bytes) { f.miningSkipped = !!P; loops = []; }
      else loops = findMiningLoops(u8, compiled.opcodes, m, Object.values(f.primitives), P);
    }
    return loops;
  };
  return f;
}

/** Rules that hold for a module, with what to tell the reader: webscan/wasm/engine.py's _evaluate. */
export function evaluate(f, wasmRules) {
  const out = [];
  for (const c of wasmRules) {
    const r = c.rule, present = f.primitives, m = f.module;
    if ((r.primitives_all || []).some((p) => !(p in present))) continue;
    const anyHits = (r.primitives_any || []).filter((p) => p in present);
    if ((r.primitives_any || []).length && anyHits.length < Math.max(1, r.primitives_min || 0)) continue;
    if (m.instructions < (r.min_instructions || 0)) continue;
    if (r.min_xor_share != null && f.xor_share < r.min_xor_share) continue;
    if (r.min_rotates_per_1000 != null && f.rotates_per_1000 < r.min_rotates_per_1000) continue;
    let exports = null, imports = null;
    if (c.exports) { exports = m.exports.filter((e) => c.exports.some((re) => re.test(e))); if (!exports.length) continue; }
    if (c.imports) {
      imports = m.imports.filter((full, k) => c.imports.some((re) => re.test(m.importNames[k]) || re.test(full)));
      if (!imports.length) continue;
    }
    const loops = r.mining_loop ? f.miningLoops() : null;
    if (loops && !loops.length) continue;
    const parts = [];
    const prims = [...(r.primitives_all || []), ...anyHits];
    if (prims.length) parts.push("primitives: " + prims.map((p) => `${p} (${present[p].hits} via ${present[p].rule})`).join(", "));
    if (exports) parts.push("exports: " + exports.slice(0, 5).join(", "));
    if (imports) parts.push("imports: " + imports.slice(0, 5).join(", "));
    if (loops) {
      parts.push(`nonce loop at byte ${loops[0].offset} (local ${loops[0].nonce_local} written, hashed, result compared with a target, incremented)`);
    }
    if (r.min_xor_share != null || r.min_rotates_per_1000 != null) {
      parts.push(`xor share ${f.xor_share.toFixed(4)}, ${f.rotates_per_1000.toFixed(1)} rotates per 1,000 of ${m.instructions} instructions`);
    }
    out.push({ rule: r, detail: parts.join("; ") });
  }
  return out;
}

/*
 * The nonce-loop search: a port of webscan/wasm/mining.py (its docstring says what it finds and
 * why), on the same tokens (an instruction's bytes, as a string) and with the same bounds, which
 * the build copies from it (rules.mining). tests/test_extension_scorer.py compares the loops
 * both find on every fixture module.
 */
const LOOP = 0x03, BLOCK = 0x02, IF = 0x04, TRY = 0x06, END = 0x0b, BR_IF = 0x0d, CALL = 0x10;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, LOCAL_TEE = 0x22, GLOBAL_GET = 0x23;
const I32_CONST = 0x41, I64_CONST = 0x42, I32_ADD = 0x6a, I64_ADD = 0x7c;
const isLoad = (o) => o >= 0x28 && o < 0x36;
const isStore = (o) => o >= 0x36 && o < 0x3f;
const UNSIGNED_COMPARES = new Set([0x49, 0x4b, 0x4d, 0x4f, 0x54, 0x56, 0x58, 0x5a]);
const XORS_ROTATES = new Set([0x73, 0x85, 0x77, 0x78, 0x89, 0x8a]);
const BRANCHES = new Set([0x0c, 0x0d, 0x0e, 0x0f]);
const INCREMENTS = new Set(["\x41\x01", "\x42\x01", "\x41\x7f", "\x42\x7f"]);
const TABLE_OPS = [0x28, 0x29, 0x2d, 0x35];  // i32.load, i64.load, i32.load8_u, i64.load32_u

function leb(tok, at) {
  let value = 0, shift = 0;
  for (let i = at; i < tok.length; i++) {
    const b = tok.charCodeAt(i);
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) break;
  }
  return value;
}

function sleb(tok, at) {
  let value = 0, shift = 0, b = 0;
  for (let i = at; i < tok.length; i++) {
    b = tok.charCodeAt(i);
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) break;
  }
  return b & 0x40 ? value - 2 ** shift : value;
}

function tokensOf(u8, ops, body) {
  const acc = { instructions: 0, xor: 0, rotate: 0, consts: new Set(), toks: [] };
  try {
    walk(new Reader(u8, body.code, body.end), ops, acc, false);
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return null;
  }
  return acc.toks;
}

function slebBytes(v) {  // v: BigInt
  let out = "";
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && !(byte & 0x40)) || (v === -1n && byte & 0x40)) return out + String.fromCharCode(byte);
    out += String.fromCharCode(byte | 0x80);
  }
}

/** `i32.const` / `i64.const` tokens of the primitives' constants (canonical LEB128). */
function literalTokens(values, P) {
  const out = new Set();
  for (const v of values) {
    if (v < BigInt(P.distinctive_min)) continue;
    for (const [op, bits] of [[I32_CONST, 32n], [I64_CONST, 64n]]) {
      if (v >> bits) continue;
      const signed = (v >> (bits - 1n)) ? v - (1n << bits) : v;
      out.add(String.fromCharCode(op) + slebBytes(signed));
    }
  }
  return out;
}

/** The canonical LEB128 of `v` and the 5-byte padded form linkers leave for relocations. */
function ulebForms(v, signed) {
  const out = [];
  for (const width of [null, 5]) {
    let b = "", x = v;
    for (;;) {
      const byte = x % 128;
      x = Math.floor(x / 128);
      const done = width === null ? x === 0 && !(signed && byte & 0x40) : b.length === width - 1;
      if (done) { b += String.fromCharCode(byte); break; }
      b += String.fromCharCode(byte | 0x80);
    }
    out.push(b);
  }
  return out;
}

/** Instruction tokens (an i32.const or a load) that address a primitive's table in memory. */
function tableTokens(m, hits, P) {
  const starts = new Map();  // "address step" -> [address, step]
  for (const hit of hits) {
    const set = hit.set, width = set.width / 8;
    const needles = (set.byte_patterns || []).map((p) => [hexBytes(p), 4]);
    if (set.values.length) {
      const le = new Uint8Array(width);
      let v = BigInt(set.values[0]) & ((1n << BigInt(set.width)) - 1n);
      for (let k = 0; k < width; k++) { le[k] = Number(v & 0xffn); v >>= 8n; }
      needles.push([le, Math.max(width, 4)]);
    }
    m.data.forEach((seg, k) => {
      const address = m.dataAddress[k];
      if (address === null || starts.size >= P.max_tables) return;
      for (const [needle, step] of needles) {
        const at = indexOf(seg, needle);
        if (at >= 0) starts.set(`${address + at} ${step}`, [address + at, step]);
      }
    });
  }
  const tokens = new Set();
  for (const [start, step] of starts.values()) {
    for (let address = start; address < start + P.table_addresses * step; address += step) {
      for (const form of ulebForms(address, true)) tokens.add(String.fromCharCode(I32_CONST) + form);
      for (const form of ulebForms(address, false)) {
        for (const op of TABLE_OPS) for (let align = 0; align < 4; align++) tokens.add(String.fromCharCode(op, align) + form);
      }
    }
  }
  return tokens;
}

/** Functions that hash (level 0), or reach one that does in `level` calls, up to max_hash_depth. */
function reaching(hashing, calls, P) {
  const callers = new Map();
  for (const [f, targets] of calls) {
    for (const t of targets) { if (!callers.has(t)) callers.set(t, new Set()); callers.get(t).add(f); }
  }
  const out = new Map([...hashing].map((f) => [f, 0]));
  let level = [...hashing];
  for (let depth = 1; depth <= P.max_hash_depth; depth++) {
    const next = [];
    for (const f of level) {
      for (const c of callers.get(f) || []) if (!out.has(c)) { out.set(c, depth); next.push(c); }
    }
    level = next;
  }
  return out;
}

/** Loops with the mining shape, at most P.limit: webscan/wasm/mining.py's find_mining_loops. */
export function findMiningLoops(u8, ops, m, hits, P) {
  const marks = literalTokens(new Set(hits.flatMap((h) => [...h.values])), P);
  for (const t of tableTokens(m, hits, P)) marks.add(t);
  const calls = new Map(), hashing = new Set(), looping = [];
  for (const body of m.bodies) {
    const toks = tokensOf(u8, ops, body);
    if (!toks) continue;
    const counts = new Map();
    for (const t of toks) counts.set(t, (counts.get(t) || 0) + 1);
    let mixes = 0, marked = false, hasLoop = false, hasCompare = false, hasIncrement = false;
    const targets = new Set();
    for (const [t, n] of counts) {
      const o = t.charCodeAt(0);
      if (t.length === 1 && XORS_ROTATES.has(o)) mixes += n;
      if (t.length === 1 && UNSIGNED_COMPARES.has(o)) hasCompare = true;
      if (o === CALL) targets.add(leb(t, 1));
      if (o === LOOP) hasLoop = true;
      if (INCREMENTS.has(t)) hasIncrement = true;
      if (!marked && marks.has(t)) marked = true;
    }
    if ((mixes >= P.hash_kernel_mixes && mixes >= P.hash_dense_share * toks.length) || marked) hashing.add(body.index);
    if (targets.size) calls.set(body.index, targets);
    if ((targets.size || mixes >= P.hash_dense_min) && hasLoop && hasCompare && hasIncrement) looping.push([body, targets, mixes]);
  }
  const levels = reaching(hashing, calls, P);
  // Closest to the hashing code first (an inlined hash counts as level 0), as mining.py ranks.
  const ranked = [];
  for (const [body, targets, mixes] of looping) {
    let near = null;
    for (const t of targets) if (levels.has(t) && (near === null || levels.get(t) < near)) near = levels.get(t);
    if (mixes >= P.hash_dense_min) near = 0;
    if (near !== null) ranked.push([near, body.index, body]);
  }
  ranked.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const found = [];
  let walked = 0;
  for (const [, , body] of ranked) {
    if (walked >= P.walk_budget || found.length >= P.limit) break;
    walked += body.instructions;
    found.push(...scanLoops(body, tokensOf(u8, ops, body), levels, P));
  }
  return found.slice(0, P.limit);
}

function newLoop(start) {
  return { start, size: 0, callsHash: false, hashSeen: false, mixes: 0, incremented: new Set(), pending: new Set(),
           stored: new Set(), written: new Set(), compares: [] };
}

function scanLoops(body, toks, reaches, P) {
  const stack = [], loops = [], out = [];
  let offset = body.code;
  for (let i = 0; i < toks.length; i++) {
    const tok = toks[i], op = tok.charCodeAt(0), pos = offset;
    offset += tok.length;
    if (op === BLOCK || op === IF || op === TRY) { stack.push(null); continue; }
    if (op === LOOP) { const lp = newLoop(pos); stack.push(lp); loops.push(lp); continue; }
    if (op === END) {
      if (!stack.length) continue;
      const top = stack.pop();
      if (top !== null) {
        loops.pop();
        const hit = [...top.incremented].filter((n) => top.stored.has(n));
        if (top.callsHash && hit.length && top.size <= P.max_search_loop && top.compares.some((c) => isTarget(c, top))) {
          out.push({ function: body.index, offset: top.start, nonce_local: Math.min(...hit), size: top.size });
        }
        if (loops.length) {
          const parent = loops[loops.length - 1];
          parent.mixes += top.mixes;
          for (const n of top.incremented) parent.incremented.add(n);
          for (const n of top.written) parent.written.add(n);
          if (top.mixes >= P.hash_dense_min || top.callsHash) parent.callsHash = parent.hashSeen = true;
        }
      }
      continue;
    }
    if (!loops.length) continue;
    const lp = loops[loops.length - 1];
    lp.size++;
    if (XORS_ROTATES.has(op)) lp.mixes++;
    else if (op === CALL) {
      if (reaches.has(leb(tok, 1))) { lp.callsHash = lp.hashSeen = true; for (const n of lp.pending) lp.stored.add(n); }
      lp.pending.clear();
    } else if (op === LOCAL_SET || op === LOCAL_TEE) {
      const n = leb(tok, 1);
      lp.written.add(n);
      const o1 = i >= 3 ? toks[i - 1].charCodeAt(0) : -1, o2 = i >= 3 ? toks[i - 2].charCodeAt(0) : -1;
      if (i >= 3 && (o1 === I32_ADD || o1 === I64_ADD) && (o2 === I32_CONST || o2 === I64_CONST)
          && Math.abs(sleb(toks[i - 2], 1)) === 1 && toks[i - 3].charCodeAt(0) === LOCAL_GET && toks[i - 3].slice(1) === tok.slice(1)) {
        lp.incremented.add(n);
      }
    } else if (isStore(op)) {
      for (let j = i - 1; j > Math.max(-1, i - 1 - P.store_lookback); j--) {
        const o = toks[j].charCodeAt(0);
        if (o === LOCAL_GET || o === LOCAL_TEE) lp.pending.add(leb(toks[j], 1));
        else if (BRANCHES.has(o) || isStore(o) || o === CALL || o === BLOCK || o === LOOP || o === IF || o === END) break;
      }
    } else if (UNSIGNED_COMPARES.has(op) && lp.hashSeen && branchesForward(toks, i, stack)) {
      const compare = operands(toks, i);
      if (compare !== null) lp.compares.push(compare);
    }
  }
  return out;
}

/** The simple operand ending at token j: ["local", n], ["global", n] or ["load", base local or -1]. */
function operand(toks, j) {
  if (j >= 0 && toks[j].charCodeAt(0) === LOCAL_TEE) j--;
  if (j < 0) return null;
  const o = toks[j].charCodeAt(0);
  if (o === LOCAL_GET) return [["local", leb(toks[j], 1)], j];
  if (o === GLOBAL_GET) return [["global", leb(toks[j], 1)], j];
  if (isLoad(o) && j >= 1) {
    const p = toks[j - 1].charCodeAt(0);
    if (p === LOCAL_GET || p === LOCAL_TEE) return [["load", leb(toks[j - 1], 1)], j - 1];
    if (p === I32_CONST) return [["load", -1], j - 1];
  }
  return null;
}

function operands(toks, i) {
  const second = operand(toks, i - 1);
  if (second === null) return null;
  const first = operand(toks, second[1] - 1);
  return first === null ? null : [first[0], second[0]];
}

/** A hash word against a target, not the loop's counter against its bound (mining.py's _is_target). */
function isTarget([a, b], lp) {
  if (a[0] !== "load") [a, b] = [b, a];
  if (a[0] !== "load") return false;
  if ([a, b].some(([kind, n]) => kind !== "global" && lp.incremented.has(n))) return false;
  const base = a[1];
  if (base !== -1 && lp.written.has(base)) return false;
  if (b[0] === "load") return b[1] !== base && (b[1] === -1 || !lp.written.has(b[1]));
  return b[0] === "global" || !lp.written.has(b[1]);
}

/** The comparison at `i` decides an `if` or a branch out of the loop body, not its back edge. */
function branchesForward(toks, i, stack) {
  for (const t of toks.slice(i + 1, i + 4)) {
    const o = t.charCodeAt(0);
    if (o === IF) return true;
    if (o === BR_IF) {
      let inner = 0;
      for (let k = stack.length - 1; k >= 0 && stack[k] === null; k--) inner++;
      return leb(t, 1) !== inner;
    }
    if (isStore(o) || o === CALL || BRANCHES.has(o)) return false;
  }
  return false;
}
