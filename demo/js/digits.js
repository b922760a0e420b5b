// Draw a digit: the digits model (models/digits/model.onnx, input "image" [N,1,8,8] in 0..1,
// output "probs" [N,10]) reads the drawing on the pad after each stroke, and every few frames
// while a stroke is under way.
//
// The model was trained on scikit-learn's digits: NIST's programs scaled each scanned digit to a
// 32x32 black-and-white bitmap and counted the ink in its 4x4 blocks, 0..16. The pad goes
// through the same steps (models/digits/README.md, "Pre-processing"): ink where the canvas is
// at least half covered; the ink's bounding box scaled, keeping its aspect ratio, to 32 pixels
// high (or 32 wide if it would be wider) and centred on a 32x32 grid; each grid cell ink when at
// least half of the canvas area it covers is ink; the ink cells of each 4x4 block counted and
// divided by 16. A held-out sample goes in as the data set has it: its 0..16 values / 16.
//
// The pad's data-prediction attribute holds the predicted digit, and data-busy is set while a
// run is under way, for scripts that drive the page.
//
// A classic script: it uses the global `edgeinfer` that dist/edgeinfer.js defines.

(function () {
  'use strict';

  const { InferenceSession, Tensor } = edgeinfer;
  const ui = window.demoUI;
  const SIDE = 8;
  const PREDICT_EVERY_MS = 120; // while drawing
  const INK = '#161a24';

  const pad = document.getElementById('pad');
  const ctx = pad.getContext('2d', { willReadFrequently: true });
  const modelInput = document.getElementById('model-input');
  const status = document.getElementById('model-status');
  const errorBox = document.getElementById('error');
  const bars = document.getElementById('bars');
  const topClass = document.getElementById('top-class');
  const topText = document.getElementById('top-text');
  const topSub = document.getElementById('top-sub');
  const latency = document.getElementById('latency');
  const labels = Array.from({ length: 10 }, (_, i) => String(i));
  document.getElementById('version').textContent = edgeinfer.version;

  ui.renderBars(bars, labels, null);

  const sessionReady = InferenceSession.create('models/digits/model.onnx');
  sessionReady.then(() => {
    status.textContent = 'Model ready';
    status.className = 'badge ok';
  }, (err) => {
    status.textContent = 'Model failed to load';
    status.className = 'badge bad';
    ui.showError(errorBox, err);
  });

  // ---- pre-processing ----

  const GRID = 32; // NIST's bitmap
  const BLOCK = GRID / SIDE;

  // For each source index 0..n-1, the output cells of `cells` (each `cell` source units wide,
  // the first starting at `lo`) that overlap the source interval [i, i+1), with the overlap.
  function overlaps(n, lo, cell, cells) {
    const out = [];
    for (let i = 0; i < n; i++) {
      const w = [];
      const c0 = Math.max(0, Math.floor((i - lo) / cell));
      const c1 = Math.min(cells - 1, Math.floor((i + 1 - lo) / cell));
      for (let c = c0; c <= c1; c++) {
        const a = Math.max(i, lo + c * cell);
        const b = Math.min(i + 1, lo + (c + 1) * cell);
        if (b > a) w.push({ cell: c, weight: b - a });
      }
      out.push(w);
    }
    return out;
  }

  /**
   * The pad as the model's input: Float32Array [8*8] in 0..1 (row-major), or null when the pad
   * has no ink.
   */
  function toModelInput() {
    const { width: W, height: H } = pad;
    const rgba = ctx.getImageData(0, 0, W, H).data;
    // 1. Ink: at least half covered (the pad is transparent; strokes are dark and opaque).
    const ink = new Uint8Array(W * H);
    let x0 = W;
    let y0 = H;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (rgba[(y * W + x) * 4 + 3] < 128) continue;
        ink[y * W + x] = 1;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
    if (x1 < 0) return null;
    // 2. The bounding box, scaled to 32 high (or 32 wide) and centred: a grid cell is `cell`
    //    canvas pixels, and the grid starts at (left, top) on the canvas.
    const bw = x1 - x0 + 1;
    const bh = y1 - y0 + 1;
    const cell = Math.max(bh, bw) / GRID;
    const left = x0 - (GRID * cell - bw) / 2;
    const top = y0 - (GRID * cell - bh) / 2;
    // 3. Each grid cell's share of ink, then ink or not.
    const wx = overlaps(W, left, cell, GRID);
    const wy = overlaps(H, top, cell, GRID);
    const grid = new Float32Array(GRID * GRID);
    const row = new Float32Array(GRID);
    for (let y = y0; y <= y1; y++) {
      row.fill(0);
      for (let x = x0; x <= x1; x++) {
        if (!ink[y * W + x]) continue;
        for (const o of wx[x]) row[o.cell] += o.weight;
      }
      for (const o of wy[y]) {
        for (let c = 0; c < GRID; c++) grid[o.cell * GRID + c] += row[c] * o.weight;
      }
    }
    // 4, 5. Ink cells per 4x4 block, / 16.
    const out = new Float32Array(SIDE * SIDE);
    const area = cell * cell;
    for (let gy = 0; gy < GRID; gy++) {
      for (let gx = 0; gx < GRID; gx++) {
        if (grid[gy * GRID + gx] >= area / 2) out[Math.floor(gy / BLOCK) * SIDE + Math.floor(gx / BLOCK)] += 1 / (BLOCK * BLOCK);
      }
    }
    return out;
  }

  function showModelInput(pixels) {
    const c = modelInput.getContext('2d');
    // Ink on paper, like the pad (the model's 1 is full ink).
    c.clearRect(0, 0, SIDE, SIDE);
    c.fillStyle = INK;
    for (let i = 0; pixels && i < SIDE * SIDE; i++) {
      c.globalAlpha = pixels[i];
      c.fillRect(i % SIDE, Math.floor(i / SIDE), 1, 1);
    }
    c.globalAlpha = 1;
  }

  // ---- prediction ----

  let busy = false;
  let again = false;

  function showEmpty() {
    ui.renderBars(bars, labels, null);
    topClass.textContent = '?';
    topText.textContent = 'Draw something';
    topSub.textContent = 'The model predicts on each stroke.';
    latency.textContent = '–';
    delete pad.dataset.prediction;
  }

  // Runs the model on the pad. Calls that come while a run is under way are folded into one
  // more run after it, so the result always follows the latest drawing.
  let exact = null; // a held-out sample's values while the pad shows only that sample

  async function predict() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    pad.dataset.busy = '1';
    try {
      do {
        again = false;
        const pixels = exact || toModelInput();
        showModelInput(pixels);
        if (!pixels) {
          showEmpty();
          continue;
        }
        const session = await sessionReady;
        const image = new Tensor('float32', pixels, [1, 1, SIDE, SIDE]);
        const t0 = performance.now();
        const { probs } = await session.run({ image });
        const ms = performance.now() - t0;
        const p = probs.data;
        const order = ui.rank(p);
        ui.renderBars(bars, labels, p);
        topClass.textContent = String(order[0]);
        topText.textContent = `Looks like a ${order[0]}`;
        topSub.textContent = `${ui.formatPercent(p[order[0]])} sure · next: ${order[1]} (${ui.formatPercent(p[order[1]])})`;
        latency.textContent = ui.formatMs(ms);
        pad.dataset.prediction = String(order[0]);
        errorBox.hidden = true;
      } while (again);
    } catch (err) {
      ui.showError(errorBox, err);
    } finally {
      busy = false;
      delete pad.dataset.busy;
    }
  }

  // ---- drawing ----

  function penWidth() {
    return pad.width * 0.085;
  }

  function padPoint(e) {
    const r = pad.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * pad.width) / r.width, y: ((e.clientY - r.top) * pad.height) / r.height };
  }

  let stroke = null; // {id, last}
  let lastPredict = 0;

  function dot(p) {
    ctx.beginPath();
    ctx.arc(p.x, p.y, penWidth() / 2, 0, Math.PI * 2);
    ctx.fill();
  }

  function segment(a, b) {
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
  }

  function setPen() {
    ctx.globalAlpha = 1;
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineWidth = penWidth();
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
  }

  pad.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || stroke) return;
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    setPen();
    const p = padPoint(e);
    dot(p);
    stroke = { id: e.pointerId, last: p };
    clearSampleSelection();
    exact = null;
  });

  pad.addEventListener('pointermove', (e) => {
    if (!stroke || e.pointerId !== stroke.id) return;
    const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const p = padPoint(ev);
      segment(stroke.last, p);
      stroke.last = p;
    }
    const now = performance.now();
    if (now - lastPredict > PREDICT_EVERY_MS) {
      lastPredict = now;
      predict();
    }
  });

  function endStroke(e) {
    if (!stroke || e.pointerId !== stroke.id) return;
    stroke = null;
    predict();
  }

  pad.addEventListener('pointerup', endStroke);
  pad.addEventListener('pointercancel', endStroke);

  function clearPad() {
    ctx.clearRect(0, 0, pad.width, pad.height);
    clearSampleSelection();
    exact = null;
    predict();
  }

  document.getElementById('clear').addEventListener('click', clearPad);

  // ---- held-out samples ----

  const sampleBox = document.getElementById('samples');

  function clearSampleSelection() {
    for (const b of sampleBox.querySelectorAll('button')) b.setAttribute('aria-pressed', 'false');
  }

  // Paints a sample's 8x8 values (0..16) as square blocks of ink whose opacity is the value, and
  // runs the model on the values themselves (drawing over it goes back to reading the pad).
  function drawSample(sample) {
    exact = Float32Array.from(sample.pixels, (v) => v / 16);
    ctx.clearRect(0, 0, pad.width, pad.height);
    const margin = pad.width * 0.1;
    const cell = (pad.width - 2 * margin) / SIDE;
    ctx.fillStyle = INK;
    sample.pixels.forEach((v, i) => {
      if (!v) return;
      ctx.globalAlpha = v / 16;
      const x = margin + (i % SIDE) * cell;
      const y = margin + Math.floor(i / SIDE) * cell;
      // Whole pixels, so neighbouring blocks neither overlap nor leave seams.
      ctx.fillRect(Math.round(x), Math.round(y), Math.round(x + cell) - Math.round(x), Math.round(y + cell) - Math.round(y));
    });
    ctx.globalAlpha = 1;
    predict();
  }

  fetch('models/digits/samples.json')
    .then((r) => {
      if (!r.ok) throw new Error(`cannot load models/digits/samples.json: HTTP ${r.status}`);
      return r.json();
    })
    .then((samples) => {
      for (const s of samples) {
        const b = ui.el('button', '', String(s.label));
        b.type = 'button';
        b.title = `Draw the held-out sample of a ${s.label}`;
        b.setAttribute('aria-pressed', 'false');
        b.dataset.label = String(s.label);
        b.addEventListener('click', () => {
          clearSampleSelection();
          b.setAttribute('aria-pressed', 'true');
          drawSample(s);
        });
        sampleBox.append(b);
      }
    })
    .catch((err) => ui.showError(errorBox, err));

  showModelInput(null);
})();
