// Model playground: opens any .onnx file, shows what edgeinfer reads from it (inputs and outputs
// with their symbolic dims, operators, opsets, weight size, and which ops this build cannot
// run), then runs it in a worker ({ worker: true }) on random data or .npy files and draws a
// histogram of the run times.
//
// The op list comes from edgeinfer.inspect(bytes), which reads the model without making a
// session. A build without it still shows the inputs and outputs (from the session), and a
// model this build cannot run still gets the loader's message naming the node and the op.
//
// An ES module: it imports the API from dist/edgeinfer.mjs.

import * as edgeinfer from '../dist/edgeinfer.mjs';
import { parseNpy } from './npy.mjs';

const { InferenceSession, Tensor } = edgeinfer;
const ui = window.demoUI;
const $ = (id) => document.getElementById(id);
$('version').textContent = edgeinfer.version;

const status = $('model-status');
const runStatus = $('run-status');

// ---- values ----

// Float32 -> IEEE half bits (round to nearest), for random float16 inputs.
function toHalf(f) {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, f);
  const x = b.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | (((x >>> 13) & 0x3ff) + ((x >>> 12) & 1));
}

const RANDOM = {
  float32: (n) => Float32Array.from({ length: n }, Math.random),
  float64: (n) => Float64Array.from({ length: n }, Math.random),
  float16: (n) => Uint16Array.from({ length: n }, () => toHalf(Math.random())),
  int8: (n) => Int8Array.from({ length: n }, () => Math.floor(Math.random() * 10)),
  uint8: (n) => Uint8Array.from({ length: n }, () => Math.floor(Math.random() * 10)),
  int16: (n) => Int16Array.from({ length: n }, () => Math.floor(Math.random() * 10)),
  uint16: (n) => Uint16Array.from({ length: n }, () => Math.floor(Math.random() * 10)),
  int32: (n) => Int32Array.from({ length: n }, () => Math.floor(Math.random() * 10)),
  uint32: (n) => Uint32Array.from({ length: n }, () => Math.floor(Math.random() * 10)),
  int64: (n) => BigInt64Array.from({ length: n }, () => BigInt(Math.floor(Math.random() * 10))),
  uint64: (n) => BigUint64Array.from({ length: n }, () => BigInt(Math.floor(Math.random() * 10))),
  bool: (n) => Uint8Array.from({ length: n }, () => (Math.random() < 0.5 ? 1 : 0)),
};
const RANDOM_NOTE = { float32: 'uniform 0…1', float64: 'uniform 0…1', float16: 'uniform 0…1', bool: '0 or 1' };

function fmtValue(v, type) {
  if (typeof v === 'bigint') return v.toString();
  if (type === 'float16') return `0x${v.toString(16).padStart(4, '0')}`;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && !type.startsWith('float')) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

function dimsText(dims) {
  return `[${dims.join(', ')}]`;
}

// ---- the model ----

let current = null; // { name, bytes, session, info }
let loadCount = 0;

async function release() {
  const c = current;
  current = null;
  if (c && c.session) await c.session.release();
}

function dimChip(d) {
  const s = ui.el('span', typeof d === 'number' ? 'dim' : 'dim sym', d === null ? '?' : String(d));
  if (typeof d === 'string') s.title = `symbolic dim '${d}': any size`;
  if (d === null) s.title = 'a dim of unknown size';
  return s;
}

function fact(dl, label, value) {
  const div = ui.el('div');
  div.append(ui.el('dt', '', label), ui.el('dd', '', value));
  dl.append(div);
}

// inputs, outputs: ValueMetadata lists (a session's, or inspect()'s when there is no session).
function showIo(inputs, outputs) {
  const tbody = $('io').querySelector('tbody');
  tbody.replaceChildren();
  for (const [kind, list] of [['input', inputs], ['output', outputs]]) {
    for (const m of list) {
      const tr = document.createElement('tr');
      tr.dataset.kind = kind;
      tr.append(ui.el('td', '', ''), ui.el('td'), ui.el('td'), ui.el('td'));
      tr.children[0].append(ui.el('span', `badge ${kind === 'input' ? 'accent' : ''}`, kind));
      tr.children[1].append(ui.el('code', '', m.name));
      tr.children[2].textContent = m.isTensor ? m.type : 'not a tensor';
      if (m.isTensor && m.dims) {
        const cell = tr.children[3];
        cell.append('[');
        m.dims.forEach((d, i) => {
          if (i) cell.append(', ');
          cell.append(dimChip(d));
        });
        cell.append(']');
      } else {
        tr.children[3].textContent = m.isTensor ? 'unknown rank' : '–';
      }
      tbody.append(tr);
    }
  }
}

function showOps(info) {
  const counts = new Map();
  const bad = new Map();
  for (const n of info.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.op}` : n.op;
    counts.set(key, (counts.get(key) || 0) + 1);
    if (!n.supported) bad.set(key, [...(bad.get(key) || []), n]);
  }
  // Unsupported ops first, then the most used.
  const entries = [...counts].sort((a, b) => bad.has(b[0]) - bad.has(a[0]) || b[1] - a[1] || a[0].localeCompare(b[0]));
  const box = $('ops');
  box.replaceChildren();
  const max = entries.length ? entries[0][1] : 1;
  for (const [op, n] of entries) {
    const row = ui.el('div', 'bar-row');
    row.dataset.op = op;
    const label = ui.el('span', 'label', op);
    label.title = bad.has(op) ? `${op}: not supported by this build` : op;
    const track = ui.el('span', 'track');
    const fill = ui.el('span', 'fill');
    fill.style.width = `${(n / max) * 100}%`;
    track.append(fill);
    row.append(label, track, ui.el('span', 'value', `${n}×`));
    if (bad.has(op)) row.classList.add('unsupported');
    box.append(row);
  }
  const nBad = [...bad.values()].reduce((a, l) => a + l.length, 0);
  const summary = $('ops-summary');
  summary.textContent = nBad ? `${nBad} of ${info.nodes.length} nodes unsupported` : `${info.nodes.length} nodes, all supported`;
  summary.className = `badge ${nBad ? 'bad' : 'ok'}`;
  const note = $('unsupported');
  if (nBad) {
    const lines = [];
    for (const nodes of bad.values()) {
      for (const n of nodes.slice(0, 5)) {
        lines.push(`node '${n.name || '(unnamed)'}' (${n.domain ? `${n.domain}::` : ''}${n.op}, opset ${opsetOf(info, n.domain)})`);
      }
      if (nodes.length > 5) lines.push(`… and ${nodes.length - 5} more ${nodes[0].op} nodes`);
    }
    note.textContent = `This build of edgeinfer cannot run these nodes:\n${lines.join('\n')}`;
    note.hidden = false;
  } else {
    note.hidden = true;
  }
}

function opsetOf(info, domain) {
  const imports = info.opsetImports || {};
  const v = imports[domain || ''] ?? imports[domain === '' ? 'ai.onnx' : domain];
  return v === undefined ? '?' : v;
}

function showFacts(name, bytes, info, session) {
  const dl = $('facts');
  dl.replaceChildren();
  fact(dl, 'File', name);
  fact(dl, 'Size', ui.formatBytes(bytes.length));
  if (info) {
    fact(dl, 'Producer', info.producer || '–');
    fact(dl, 'IR version', String(info.irVersion ?? '–'));
    const opsets = Object.entries(info.opsetImports || {}).map(([d, v]) => `${d || 'ai.onnx'} ${v}`);
    fact(dl, 'Opsets', opsets.join(', ') || '–');
    fact(dl, 'Nodes', String(info.nodes.length));
    fact(dl, 'Weights', ui.formatBytes(Number(info.weightBytes)));
  }
  if (session) {
    fact(dl, 'Inputs', String(session.inputNames.length));
    fact(dl, 'Outputs', String(session.outputNames.length));
    fact(dl, 'Threads', session.numThreads > 1 ? String(session.numThreads)
      : '1 (threads need a cross-origin-isolated page: make demo serves one)');
  }
}

async function openModel(name, bytes) {
  const my = ++loadCount;
  await release();
  status.textContent = 'Loading…';
  status.className = 'badge';
  $('overview-empty').hidden = true;
  $('overview-body').hidden = false;
  $('load-error').hidden = true;
  $('results').hidden = true;
  $('run-error').hidden = true;

  let info = null;
  let inspectError = null;
  const missing = $('inspect-missing');
  if (typeof edgeinfer.inspect === 'function') {
    missing.hidden = true;
    try {
      info = await edgeinfer.inspect(bytes);
    } catch (err) {
      inspectError = err;
    }
  } else {
    missing.textContent = 'The operator list needs edgeinfer.inspect(), which this build of edgeinfer does not have; ' +
      'inputs and outputs below come from the session.';
    missing.hidden = false;
  }

  let session = null;
  let sessionError = null;
  if (!inspectError) {
    try {
      session = await InferenceSession.create(bytes, { worker: true });
    } catch (err) {
      sessionError = err;
    }
  }
  if (my !== loadCount) { // another model was opened meanwhile
    if (session) await session.release();
    return;
  }
  current = { name, bytes, session, info };
  showFacts(name, bytes, info, session);
  const err = inspectError || sessionError;
  if (err) ui.showError($('load-error'), err);
  status.textContent = session ? 'Ready to run' : 'Cannot run';
  status.className = `badge ${session ? 'ok' : 'bad'}`;

  $('details').hidden = !(session || info);
  $('ops-card').hidden = !info;
  $('ops-card').classList.toggle('span-all', !session);
  if (info) showOps(info);
  $('run-card').hidden = !session;
  $('run-card').classList.toggle('span-all', !info);
  if (session) {
    showIo(session.inputMetadata, session.outputMetadata);
    buildFeeds(session);
  } else if (info) {
    showIo(info.inputs, info.outputs);
  }
  document.body.dataset.model = name;
}

// ---- feeds ----

let feedControls = []; // per input: { meta, source: select, file: input, npy: parsed|null }
let symbolControls = new Map(); // dim name (or 'input:axis' for unnamed) -> number input

function buildFeeds(session) {
  const box = $('feeds');
  box.replaceChildren();
  feedControls = [];
  symbolControls = new Map();
  const dimsBox = ui.el('div', 'run-options');
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor || !meta.dims) continue;
    meta.dims.forEach((d, axis) => {
      if (typeof d === 'number') return;
      const key = d === null ? `${meta.name}:${axis}` : d;
      if (symbolControls.has(key)) return;
      const label = ui.el('label', 'field', d === null ? `${meta.name} dim ${axis}` : `Size of '${d}'`);
      const input = document.createElement('input');
      input.type = 'number';
      input.min = '1';
      input.value = '1';
      input.dataset.dim = key;
      label.append(input);
      dimsBox.append(label);
      symbolControls.set(key, input);
    });
  }
  if (symbolControls.size) box.append(dimsBox);

  for (const meta of session.inputMetadata) {
    const row = ui.el('div', 'feed');
    const title = ui.el('div', 'feed-title');
    title.append(ui.el('code', '', meta.name), ui.el('span', 'muted', meta.isTensor ? ` ${meta.type}` : ''));
    const select = document.createElement('select');
    select.setAttribute('aria-label', `Data for ${meta.name}`);
    const random = RANDOM[meta.type] && meta.dims;
    if (random) select.append(new Option(`Random (${RANDOM_NOTE[meta.type] || 'integers 0…9'})`, 'random'));
    select.append(new Option('A .npy file…', 'npy'));
    const file = document.createElement('input');
    file.type = 'file';
    file.accept = '.npy';
    file.hidden = random;
    file.dataset.input = meta.name;
    const note = ui.el('span', 'hint');
    const ctl = { meta, select, file, note, npy: null };
    select.addEventListener('change', () => {
      file.hidden = select.value !== 'npy';
      if (select.value === 'npy' && !ctl.npy) file.click();
    });
    file.addEventListener('change', async () => {
      const f = file.files[0];
      if (!f) return;
      try {
        const t = parseNpy(await f.arrayBuffer());
        ctl.npy = t;
        note.textContent = `${f.name}: ${t.type} ${dimsText(t.shape)}`;
        note.className = 'hint';
      } catch (err) {
        ctl.npy = null;
        note.textContent = `${f.name}: ${err.message}`;
        note.className = 'hint error-text';
      }
    });
    const controls = ui.el('div', 'toolbar');
    controls.append(select, file, note);
    row.append(title, controls);
    box.append(row);
    feedControls.push(ctl);
  }
}

function makeFeeds() {
  const feeds = {};
  for (const c of feedControls) {
    const { meta } = c;
    if (c.select.value === 'npy') {
      if (!c.npy) throw new Error(`choose a .npy file for input '${meta.name}'`);
      feeds[meta.name] = new Tensor(c.npy.type, c.npy.data, c.npy.shape);
      continue;
    }
    const dims = meta.dims.map((d, axis) => {
      if (typeof d === 'number') return d;
      const input = symbolControls.get(d === null ? `${meta.name}:${axis}` : d);
      const n = Number(input.value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`the size of '${input.dataset.dim}' must be a whole number ≥ 1`);
      return n;
    });
    const size = dims.reduce((a, b) => a * b, 1);
    if (size > 64 * 1024 * 1024) throw new Error(`input '${meta.name}' ${dimsText(dims)} would have ${size} elements; choose smaller sizes`);
    feeds[meta.name] = new Tensor(meta.type, RANDOM[meta.type](size), dims);
  }
  return feeds;
}

// ---- running ----

function isVectorish(dims) {
  return dims.filter((d) => d > 1).length <= 1 && dims.length > 0;
}

function argmax(data) {
  let best = 0;
  for (let i = 1; i < data.length; i++) if (data[i] > data[best]) best = i;
  return best;
}

function showOutputs(outputs) {
  const box = $('outputs');
  box.replaceChildren();
  for (const [name, t] of Object.entries(outputs)) {
    const div = ui.el('div', 'output');
    div.dataset.output = name;
    const head = ui.el('div', 'output-head');
    head.append(ui.el('code', '', name), ui.el('span', 'badge', `${t.type} ${dimsText(t.dims)}`));
    if (t.size > 1 && isVectorish(t.dims) && t.type !== 'float16') {
      const i = argmax(t.data);
      const am = ui.el('span', 'badge accent', `argmax ${i} (${fmtValue(t.data[i], t.type)})`);
      am.dataset.argmax = String(i);
      head.append(am);
    } else if (t.dims.length === 2 && t.dims[0] > 1 && t.dims[0] <= 32 && t.dims[1] > 1 && t.type !== 'float16') {
      // A batch of rows, e.g. class scores: the argmax of each.
      const n = t.dims[1];
      const rows = Array.from({ length: t.dims[0] }, (_, r) => argmax(t.data.subarray(r * n, (r + 1) * n)));
      head.append(ui.el('span', 'badge accent', `argmax per row ${rows.join(', ')}`));
    }
    const first = Array.from(t.data.subarray(0, 8), (v) => fmtValue(v, t.type));
    const values = `${first.join(', ')}${t.size > 8 ? `, … (${t.size} values)` : ''}`;
    div.append(head, ui.el('div', 'values', t.size ? values : '(no values)'));
    box.append(div);
  }
}

function percentile(sorted, q) {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function showLatency(times) {
  const sorted = [...times].sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const stats = $('latency-stats');
  stats.replaceChildren();
  for (const [label, v] of [['min', sorted[0]], ['median', percentile(sorted, 0.5)], ['mean', mean],
    ['p95', percentile(sorted, 0.95)], ['max', sorted[sorted.length - 1]]]) {
    const s = ui.el('span', '', `${label} `);
    s.append(ui.el('b', '', ui.formatMs(v)));
    stats.append(s);
  }
  stats.append(ui.el('span', '', `${times.length} runs`));

  // Bins from the fastest run to the 95th percentile, no narrower than the timer's resolution
  // (browsers round performance.now() to 0.1 ms unless the page is cross-origin isolated), and
  // one more bar for the slower tail. Drawn at the element's width, so the text keeps its size.
  const g = $('histogram');
  const W = Math.max(240, Math.round(g.getBoundingClientRect().width) || 480);
  const H = 160;
  const pad = { l: 30, r: 8, t: 8, b: 24 };
  const lo = sorted[0];
  const p95 = percentile(sorted, 0.95);
  const tick = self.crossOriginIsolated ? 0.005 : 0.1;
  let nBins = Math.min(24, Math.max(6, Math.ceil(Math.sqrt(times.length)) * 2));
  const width = Math.max((p95 - lo) / nBins, tick);
  nBins = Math.max(1, Math.min(nBins, Math.ceil((p95 - lo) / width + 1e-9)));
  const hi = lo + nBins * width;
  const bins = new Array(nBins + 1).fill(0); // the last one: slower than hi
  for (const t of times) bins[t >= hi ? nBins : Math.min(nBins - 1, Math.floor((t - lo) / width))]++;
  const top = Math.max(...bins);
  g.setAttribute('viewBox', `0 0 ${W} ${H}`);
  g.replaceChildren();
  const slots = nBins + (bins[nBins] ? 1.5 : 0); // the tail bar stands apart
  const bw = (W - pad.l - pad.r) / slots;
  const plotH = H - pad.t - pad.b;
  bins.forEach((n, i) => {
    if (!n) return;
    const h = (n / top) * plotH;
    const tail = i === nBins;
    const x = pad.l + (tail ? nBins + 0.5 : i) * bw;
    const rect = svg('rect', { class: tail ? 'bar tail' : 'bar', x: x + 1, y: pad.t + plotH - h, width: Math.max(1, bw - 2), height: h, rx: 2 });
    const from = lo + i * width;
    const range = tail ? `${ui.formatMs(hi)} or more` : `${ui.formatMs(from)} – ${ui.formatMs(from + width)}`;
    rect.append(svg('title', {}, `${range}: ${n} run${n === 1 ? '' : 's'}`));
    g.append(rect);
  });
  g.append(svg('line', { class: 'axis', x1: pad.l, y1: pad.t + plotH + 0.5, x2: W - pad.r, y2: pad.t + plotH + 0.5 }));
  g.append(svg('text', { x: pad.l, y: H - 6 }, ui.formatMs(lo)));
  g.append(svg('text', { x: pad.l + nBins * bw, y: H - 6, 'text-anchor': 'end' }, ui.formatMs(hi)));
  g.append(svg('text', { x: pad.l - 6, y: pad.t + 10, 'text-anchor': 'end' }, String(top)));
  g.append(svg('text', { x: pad.l - 6, y: pad.t + plotH, 'text-anchor': 'end' }, '0'));
}

let running = false;
let lastTimes = null;

// Drawn again at the new width, so the histogram's text keeps its size.
let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (lastTimes && !$('results').hidden) showLatency(lastTimes); }, 150);
});

async function run() {
  if (running || !current || !current.session) return;
  const { session } = current;
  const errBox = $('run-error');
  errBox.hidden = true;
  const n = Math.min(1000, Math.max(1, Math.floor(Number($('runs').value)) || 1));
  running = true;
  $('run').disabled = true;
  try {
    const feeds = makeFeeds();
    runStatus.textContent = 'Warming up…';
    runStatus.className = 'badge';
    let outputs = await session.run(feeds);
    const times = [];
    let shown = performance.now();
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      outputs = await session.run(feeds);
      const t1 = performance.now();
      times.push(t1 - t0);
      if (t1 - shown > 100) {
        runStatus.textContent = `Run ${i + 1} of ${n}…`;
        shown = t1;
      }
    }
    showOutputs(outputs);
    $('results').hidden = false; // before drawing: the histogram is drawn at its shown width
    lastTimes = times;
    showLatency(times);
    runStatus.textContent = `Done: ${n} runs`;
    runStatus.className = 'badge ok';
  } catch (err) {
    ui.showError(errBox, err);
    runStatus.textContent = 'Failed';
    runStatus.className = 'badge bad';
  } finally {
    running = false;
    $('run').disabled = false;
  }
}

// ---- opening files ----

async function openFile(file) {
  try {
    await openModel(file.name, new Uint8Array(await file.arrayBuffer()));
  } catch (err) {
    ui.showError($('load-error'), err);
  }
}

function setUp() {
  const drop = $('drop');
  const input = $('model-file');
  input.addEventListener('change', () => {
    if (input.files[0]) openFile(input.files[0]);
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer.files[0]) openFile(e.dataTransfer.files[0]);
  });
  $('run').addEventListener('click', run);
}

async function listBundled() {
  const r = await fetch('models/index.json');
  const { models } = await r.json();
  const box = $('bundled');
  for (const m of models) {
    const b = ui.el('button', '', `${m}.onnx`);
    b.type = 'button';
    b.dataset.model = m;
    b.addEventListener('click', async () => {
      try {
        const resp = await fetch(`models/${m}/model.onnx`);
        if (!resp.ok) throw new Error(`cannot load models/${m}/model.onnx: HTTP ${resp.status}`);
        await openModel(`${m}.onnx`, new Uint8Array(await resp.arrayBuffer()));
      } catch (err) {
        ui.showError($('load-error'), err);
      }
    });
    box.append(b);
  }
}

setUp();
listBundled().catch((err) => ui.showError($('load-error'), err));
