// Gives a module linked by emcc -Oz (without STANDALONE_WASM) its import and export names back.
// At -Oz emcc shortens them ("env"."emscripten_get_now" becomes "a"."b", ei_model_load's export
// "ba") and records the mapping only in the JS it writes next to the module, which edgeinfer does
// not ship: its own loader asks for the real names. This reads the mapping from that JS and
// rewrites the import and export sections; every other byte is copied as it is.
//
// Exports the loader does not use (the rest of Emscripten's pthread runtime) are dropped when
// KEEP (a JSON list of names, like web/exports.json, plus the runtime functions named after it) is
// given.
//
//   node web/wasm-names.mjs [--prestandard] IN.wasm EMCC_GLUE.js OUT.wasm [KEEP.json NAME...]
//
// The result must be a module the engine running this compiles, unless --prestandard says that it
// still holds the pre-standard relaxed-SIMD opcode, which web/relaxed-opcodes.mjs rewrites (and
// then checks) afterwards.

import { readFileSync, writeFileSync } from 'node:fs';

function leb(bytes, at) {
  let value = 0, shift = 0, b;
  do {
    b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return [value, at];
}

function encodeLeb(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

const utf8 = new TextEncoder();
const encodeName = (s) => [...encodeLeb(utf8.encode(s).length), ...utf8.encode(s)];

function readName(bytes, at) {
  const [len, p] = leb(bytes, at);
  return [new TextDecoder().decode(bytes.subarray(p, p + len)), p + len];
}

// The short name -> real name maps written in the glue: imports as `"f":___emscripten_init_main_thread_js`
// inside asmLibraryArg (the JS name is the C name with one more '_'), exports as
// `Module["asm"]["ba"]` assigned to the JS name of the C function (or runtime helper).
function mappings(glue) {
  const lib = /var asmLibraryArg=\{([^}]*)\}/.exec(glue);
  if (!lib) throw new Error('no asmLibraryArg in the glue');
  const imports = new Map();
  for (const [, short, js] of lib[1].matchAll(/"([^"]+)":([A-Za-z0-9_$]+)/g)) {
    imports.set(short, js === 'wasmMemory' ? 'memory' : js.replace(/^_/, ''));
  }
  const exports = new Map();
  for (const [, js, short] of glue.matchAll(/var ([A-Za-z0-9_$]+)=Module\["[^"]+"\]=function\(\)\{return\(\1=Module\["[^"]+"\]=Module\["asm"\]\["([^"]+)"\]\)/g)) {
    exports.set(short, js.replace(/^_/, ''));
  }
  for (const [, js, short] of glue.matchAll(/([A-Za-z0-9_$]+)=Module\["asm"\]\["([^"]+)"\]/g)) {
    if (!exports.has(short) && !/^Module/.test(js)) exports.set(short, js.replace(/^_/, ''));
  }
  return { imports, exports };
}

function rename(name, map, what) {
  const real = map.get(name);
  if (real === undefined) throw new Error(`no real name for ${what} "${name}"`);
  return real;
}

function rewriteImports(payload, map) {
  const out = [];
  let [count, at] = leb(payload, 0);
  out.push(...encodeLeb(count));
  for (let i = 0; i < count; i++) {
    let module, field;
    [module, at] = readName(payload, at);
    [field, at] = readName(payload, at);
    const start = at, kind = payload[at++];
    if (kind === 0) [, at] = leb(payload, at); // function: type index
    else if (kind === 1) { at++; const flags = payload[at++]; [, at] = leb(payload, at); if (flags & 1) [, at] = leb(payload, at); }
    else if (kind === 2) { const flags = payload[at++]; [, at] = leb(payload, at); if (flags & 1) [, at] = leb(payload, at); }
    else if (kind === 3) at += 2; // global: value type, mutability
    else throw new Error(`import kind ${kind}`);
    out.push(...encodeName('env'), ...encodeName(rename(field, map, `import ${module}.${field}`)), ...payload.subarray(start, at));
  }
  return out;
}

function rewriteExports(payload, map, keep) {
  const out = [];
  let [count, at] = leb(payload, 0);
  let kept = 0;
  for (let i = 0; i < count; i++) {
    let name;
    [name, at] = readName(payload, at);
    const start = at++;
    [, at] = leb(payload, at);
    const real = rename(name, map, 'export');
    if (keep && !keep.has(real)) continue;
    out.push(...encodeName(real), ...payload.subarray(start, at));
    kept++;
  }
  return [...encodeLeb(kept), ...out];
}

const args = process.argv.slice(2);
const prestandard = args[0] === '--prestandard';
const [input, glueFile, output, keepFile, ...runtime] = prestandard ? args.slice(1) : args;
const keep = keepFile
  ? new Set([...JSON.parse(readFileSync(keepFile, 'utf8')).map((n) => n.replace(/^_/, '')), ...runtime]) : null;
const bytes = readFileSync(input);
const { imports, exports } = mappings(readFileSync(glueFile, 'utf8'));
const parts = [bytes.subarray(0, 8)];
for (let at = 8; at < bytes.length;) {
  const id = bytes[at];
  const [size, p] = leb(bytes, at + 1);
  const payload = bytes.subarray(p, p + size);
  if (id === 2 || id === 7) {
    const body = id === 2 ? rewriteImports(payload, imports) : rewriteExports(payload, exports, keep);
    parts.push(Uint8Array.from([id, ...encodeLeb(body.length), ...body]));
  } else {
    parts.push(bytes.subarray(at, p + size));
  }
  at = p + size;
}
const result = Buffer.concat(parts);
if (!prestandard) new WebAssembly.Module(result); // still a valid module
writeFileSync(output, result);
