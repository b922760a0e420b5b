// Rewrites the relaxed multiply-add of a linked edgeinfer-relaxed.wasm from the pre-standard
// opcode that LLVM 14 emits (f32x4.fma, 0xfd 0xaf 0x01) to the standard f32x4.relaxed_madd
// (0xfd 0x85 0x02, the same length), which engines accept. Both take (a, b, c) from the stack;
// src/kernels/simd.h pushes them in the order relaxed_madd reads as a * b + c.
//
//   node --experimental-wasm-relaxed-simd web/relaxed-opcodes.mjs IN.wasm OUT.wasm
//
// The code section is decoded instruction by instruction (not searched for bytes), so an
// immediate that happens to contain 0xfd 0xaf 0x01 is never touched. Any opcode this file does
// not know, any other pre-standard relaxed opcode, a malformed body or a build with no relaxed
// madd at all is an error and nothing is written, and so is a result that does not pass
// WebAssembly.validate in the engine running this script.

import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const FMA_PRESTANDARD = 0xaf; // 0xfd 0xaf 0x01
const RELAXED_MADD = 0x105; // 0xfd 0x85 0x02

class Reader {
  constructor(bytes, pos, end) {
    this.b = bytes;
    this.pos = pos;
    this.end = end;
  }

  fail(msg) {
    throw new Error(`${msg} at byte 0x${this.pos.toString(16)}`);
  }

  byte() {
    if (this.pos >= this.end) this.fail('unexpected end of data');
    return this.b[this.pos++];
  }

  skip(n) {
    if (this.pos + n > this.end) this.fail('unexpected end of data');
    this.pos += n;
  }

  // Unsigned LEB128 of at most `bits` bits; returns {value, length}.
  uleb(bits = 32) {
    const start = this.pos;
    let value = 0;
    let mul = 1;
    for (;;) {
      const c = this.byte();
      value += (c & 0x7f) * mul;
      mul *= 128;
      if (!(c & 0x80)) break;
      if (this.pos - start >= Math.ceil(bits / 7)) this.fail(`LEB128 longer than ${bits} bits`);
    }
    return { value, length: this.pos - start };
  }

  u32() {
    return this.uleb(32).value;
  }

  // Signed LEB128: only its length matters here.
  sleb(bits) {
    const start = this.pos;
    while (this.byte() & 0x80) {
      if (this.pos - start >= Math.ceil(bits / 7)) this.fail(`signed LEB128 longer than ${bits} bits`);
    }
  }

  memarg() {
    this.u32();
    this.u32();
  }
}

const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

// One-byte opcodes by immediate kind (MVP, sign extension, reference types).
const OPS = new Map();
const kind = (k, ops) => ops.forEach((op) => OPS.set(op, k));
kind('none', [0x00, 0x01, 0x05, 0x0b, 0x0f, 0x1a, 0x1b, 0xd1, ...range(0x45, 0xc4)]);
kind('block', [0x02, 0x03, 0x04]);
kind('u32', [0x0c, 0x0d, 0x10, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0xd2]);
kind('br_table', [0x0e]);
kind('call_indirect', [0x11]);
kind('select_t', [0x1c]);
kind('memarg', range(0x28, 0x3e));
kind('zero_byte', [0x3f, 0x40]);
kind('i32', [0x41]);
kind('i64', [0x42]);
kind('f32', [0x43]);
kind('f64', [0x44]);
kind('byte', [0xd0]);
kind('fc', [0xfc]);
kind('fd', [0xfd]);
kind('fe', [0xfe]);

// 0xfc sub-opcodes: saturating truncation (0-7), bulk memory and table ops (8-17).
const FC = new Map([...range(0, 7).map((op) => [op, []]),
  [8, ['u32', 'byte']], [9, ['u32']], [10, ['byte', 'byte']], [11, ['byte']], [12, ['u32', 'u32']],
  [13, ['u32']], [14, ['u32', 'u32']], [15, ['u32']], [16, ['u32']], [17, ['u32']]]);

// 0xfd sub-opcodes of the final SIMD128 and relaxed-SIMD proposals (relaxed: 0x100-0x113, no
// immediates). Numbers SIMD128 leaves unassigned, where LLVM 14 put its pre-standard relaxed
// ops, are unknown here, except the one pre-standard fma this script rewrites.
const FD_UNASSIGNED = new Set([0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2,
  0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee]);
function fdImmediates(op) {
  if (op <= 11 || op === 0x5c || op === 0x5d) return ['memarg'];
  if (op === 12 || op === 13) return ['bytes16'];
  if (op >= 0x15 && op <= 0x22) return ['byte'];
  if (op >= 0x54 && op <= 0x5b) return ['memarg', 'byte'];
  if ((op <= 0xff && !FD_UNASSIGNED.has(op)) || (op >= 0x100 && op <= 0x113)) return [];
  return null;
}

function immediates(r, kinds) {
  for (const k of kinds) {
    if (k === 'u32') r.u32();
    else if (k === 'byte') r.byte();
    else if (k === 'memarg') r.memarg();
    else if (k === 'bytes16') r.skip(16);
  }
}

// Decodes one function body [pos, end), calling onFma(offset of the sub-opcode) for each
// pre-standard fma; returns how many standard relaxed_madd it holds. Throws on anything it
// does not understand.
function scanBody(bytes, pos, end, onFma) {
  let madds = 0;
  const r = new Reader(bytes, pos, end);
  const groups = r.u32();
  for (let i = 0; i < groups; i++) {
    r.u32();
    r.byte();
  }
  let depth = 0;
  for (;;) {
    const at = r.pos;
    const op = r.byte();
    const k = OPS.get(op);
    if (!k) r.fail(`unknown opcode 0x${op.toString(16)} (instruction at 0x${at.toString(16)})`);
    if (k === 'block') {
      const t = bytes[r.pos];
      if (t === 0x40 || (t >= 0x6f && t <= 0x7f)) r.byte();
      else r.sleb(33);
      depth++;
    } else if (k === 'u32') r.u32();
    else if (k === 'br_table') {
      const n = r.u32();
      for (let i = 0; i <= n; i++) r.u32();
    } else if (k === 'call_indirect') {
      r.u32();
      r.u32();
    } else if (k === 'select_t') r.skip(r.u32());
    else if (k === 'memarg') r.memarg();
    else if (k === 'zero_byte') {
      if (r.byte() !== 0) r.fail('memory.size/grow: expected memory index 0');
    } else if (k === 'i32') r.sleb(32);
    else if (k === 'i64') r.sleb(64);
    else if (k === 'f32') r.skip(4);
    else if (k === 'f64') r.skip(8);
    else if (k === 'byte') r.byte();
    else if (k === 'fc') {
      const sub = r.u32();
      const imm = FC.get(sub);
      if (!imm) r.fail(`unknown opcode 0xfc ${sub}`);
      immediates(r, imm);
    } else if (k === 'fe') { // threads: atomic.fence (3) takes a zero byte, the rest a memarg
      const sub = r.u32();
      if (sub === 3) {
        if (r.byte() !== 0) r.fail('atomic.fence: expected a zero byte');
      } else if (sub <= 0x4e) r.memarg();
      else r.fail(`unknown opcode 0xfe ${sub}`);
    } else if (k === 'fd') {
      const subAt = r.pos;
      const { value: sub, length } = r.uleb(32);
      if (sub === FMA_PRESTANDARD) {
        if (length !== 2) r.fail(`f32x4.fma encoded in ${length} bytes, expected 2`);
        onFma(subAt);
      } else {
        if (sub === RELAXED_MADD) madds++;
        const imm = fdImmediates(sub);
        if (!imm) r.fail(`unknown or pre-standard SIMD opcode 0xfd 0x${sub.toString(16)}`);
        immediates(r, imm);
      }
    }
    if (op === 0x0b) {
      if (depth === 0) break;
      depth--;
    }
  }
  if (r.pos !== end) r.fail(`function body ends at 0x${r.pos.toString(16)} but its size says 0x${end.toString(16)}`);
  return madds;
}

/**
 * Returns {bytes, rewritten, standard}: a copy of the module with every pre-standard fma made
 * relaxed_madd, how many were rewritten and how many relaxed_madd the input already had.
 */
export function rewriteRelaxedMadd(input) {
  const bytes = Uint8Array.from(input);
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) throw new Error('not a version 1 wasm module');
  const r = new Reader(bytes, 8, bytes.length);
  const patch = [0x85, 0x02];
  if (((patch[0] & 0x7f) | (patch[1] << 7)) !== RELAXED_MADD) throw new Error('relaxed_madd encoding');
  let rewritten = 0;
  let standard = 0;
  let codeSections = 0;
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    const end = start + size;
    if (end > bytes.length) r.fail(`section ${id} runs past the end of the file`);
    if (id === 10) {
      codeSections++;
      const s = new Reader(bytes, start, end);
      const count = s.u32();
      for (let i = 0; i < count; i++) {
        const bodySize = s.u32();
        const bodyEnd = s.pos + bodySize;
        if (bodyEnd > end) s.fail(`function ${i} runs past the code section`);
        try {
          standard += scanBody(bytes, s.pos, bodyEnd, (at) => {
            bytes[at] = patch[0];
            bytes[at + 1] = patch[1];
            rewritten++;
          });
        } catch (err) {
          throw new Error(`function ${i} of the code section: ${err.message}`);
        }
        s.pos = bodyEnd;
      }
      if (s.pos !== end) s.fail('code section has bytes after its last function');
    }
    r.pos = end;
  }
  if (codeSections !== 1) throw new Error(`expected one code section, found ${codeSections}`);
  return { bytes, rewritten, standard };
}

function main(argv) {
  if (argv.length !== 2) {
    console.error('usage: node --experimental-wasm-relaxed-simd web/relaxed-opcodes.mjs IN.wasm OUT.wasm');
    process.exit(2);
  }
  const { bytes, rewritten } = rewriteRelaxedMadd(readFileSync(argv[0]));
  if (rewritten === 0) throw new Error(`${argv[0]} has no f32x4.fma: was it built with -mrelaxed-simd?`);
  if (!WebAssembly.validate(bytes)) {
    throw new Error(`${argv[0]}: the rewritten module does not validate (Node 20 needs --experimental-wasm-relaxed-simd)`);
  }
  writeFileSync(argv[1], bytes);
  console.log(`${argv[1]}: ${rewritten} f32x4.fma -> f32x4.relaxed_madd, validated`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`relaxed-opcodes: ${err.message}`);
    process.exit(1);
  }
}
