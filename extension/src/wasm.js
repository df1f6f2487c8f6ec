/*
 * WebAssembly facts for the background scorer: a bounded port of webscan/wasm (decoder +
 * constant matcher + wasm rules), enough to find the hashing constants a proof-of-work needs.
 *
 * Why a port and not the service: captured modules are judged on the user's machine, so the
 * badge never waits for a network and no module bytes ever leave the browser. The opcode
 * immediate shapes come from webscan.wasm.decoder through the build (rules.opcodes), so the
 * two decoders cannot drift apart; tests/test_extension_scorer.py compares both on every
 * fixture module.
 *
 * Bounds: modules over MAX_MODULE bytes are summarised (size, hash) but not decoded; a body
 * that does not decode is skipped and counted (the rest of the module still counts).
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

/**
 * Walk instructions from r.pos to r.end (or, with `untilEnd`, to the `end` closing depth 0).
 * Counts xor/rotate opcodes and collects i32/i64 constants (BigInt, unsigned).
 */
function walk(r, ops, acc, untilEnd) {
  let depth = 0;
  while (r.pos < r.end) {
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
              consts: new Set(), data: [], badBodies: 0 };
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
        if (kind === 0) s.skipLeb(5);
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
        m.functions++;
        const b = new Reader(u8, s.pos, bodyEnd);
        const acc = { instructions: 0, xor: 0, rotate: 0, consts: new Set() };
        try {
          for (let k = b.u32(); k > 0; k--) { b.skipLeb(5); valtype(b); }
          walk(b, ops, acc, false);
          m.instructions += acc.instructions; m.xor += acc.xor; m.rotate += acc.rotate;
          for (const v of acc.consts) m.consts.add(v);
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
        if (flag !== 1) walk(s, ops, { instructions: 0, xor: 0, rotate: 0, consts: new Set() }, true);
        m.data.push(s.bytes(s.u32()));
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

/** Primitives present among the code constants and the data bytes: {primitive: {hits, rule}}. */
export function matchConstants(cm, consts, data) {
  const found = new Map();  // set index -> Set of values
  const add = (i, v) => { if (!found.has(i)) found.set(i, new Set()); found.get(i).add(v); };
  for (const v of consts) for (const i of cm.index.get(v) || []) add(i, v);
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
    out[prim] = { hits: hits[0][0], rule: cm.sets[hits[0][1]].id };
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
  return {
    module: m,
    primitives: matchConstants(compiled.constants, m.consts, joinedData(m.data)),
    xor_share: n ? Math.round((m.xor / n) * 1e5) / 1e5 : 0,
    rotates_per_1000: n ? Math.round((1000 * m.rotate / n) * 1e3) / 1e3 : 0,
  };
}

/** Rules that hold for a module, with what to tell the reader: webscan/wasm/engine.py's _evaluate. */
export function evaluate(f, wasmRules) {
  const out = [];
  for (const c of wasmRules) {
    const r = c.rule, present = f.primitives, m = f.module;
    // The nonce-loop search (webscan/wasm/mining.py) walks the code; it is not ported here, so
    // rules that need it are the service's (a module it flags is looked up there).
    if (r.mining_loop) continue;
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
    const parts = [];
    const prims = [...(r.primitives_all || []), ...anyHits];
    if (prims.length) parts.push("primitives: " + prims.map((p) => `${p} (${present[p].hits} via ${present[p].rule})`).join(", "));
    if (exports) parts.push("exports: " + exports.slice(0, 5).join(", "));
    if (imports) parts.push("imports: " + imports.slice(0, 5).join(", "));
    if (r.min_xor_share != null || r.min_rotates_per_1000 != null) {
      parts.push(`xor share ${f.xor_share.toFixed(4)}, ${f.rotates_per_1000.toFixed(1)} rotates per 1,000 of ${m.instructions} instructions`);
    }
    out.push({ rule: r, detail: parts.join("; ") });
  }
  return out;
}
