// Fashion classifier: models/fashion/model.onnx (input "image" [N,1,28,28] float32 in 0..1,
// light item on a black background; output "probs" [N,10] in the order of labels.json).
//
// The bundled samples are Fashion-MNIST test images (models/fashion/samples/<label>.png) and go
// in as they are: grey level / 255. A picture of your own is made to look like one, the way the
// data set was made from product photos: greyscale, trim the border that has the corners'
// colour, scale the longest side to 28 pixels (averaging the pixels each output pixel covers),
// centre it on 28x28, and invert it when its background is light, so that the background
// becomes black and the item light.
//
// An ES module: it imports the API from dist/edgeinfer.mjs.

import { InferenceSession, Tensor, version } from '../dist/edgeinfer.mjs';

const ui = window.demoUI;
const SIDE = 28;
const TRIM_TOLERANCE = 0.08; // grey levels this close to the border's count as background
const WORK_SIZE = 280; // uploads are first scaled to at most this many pixels a side

const status = document.getElementById('model-status');
const errorBox = document.getElementById('error');
const bars = document.getElementById('bars');
const topClass = document.getElementById('top-class');
const topSub = document.getElementById('top-sub');
const latency = document.getElementById('latency');
const sourceCanvas = document.getElementById('source');
const modelCanvas = document.getElementById('model-input');
const sampleBox = document.getElementById('samples');
const background = document.getElementById('background');
document.getElementById('version').textContent = version;

// The file name of a class's sample, as models/fashion/train.py writes it.
function slug(label) {
  return label.toLowerCase().replace(/[^a-z0-9-]+/g, '_').replace(/^_+|_+$/g, '');
}

// ---- images to grey levels ----

/** Grey levels 0..1 of an image or canvas drawn at w x h, transparent parts taken as white. */
function greyOf(source, w, h) {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const grey = new Float32Array(w * h);
  for (let i = 0; i < grey.length; i++) {
    grey[i] = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
  }
  return grey;
}

// Mean grey level of the one-pixel frame around the image.
function borderLevel(grey, w, h) {
  let sum = 0;
  let n = 0;
  for (let x = 0; x < w; x++) {
    sum += grey[x] + grey[(h - 1) * w + x];
    n += 2;
  }
  for (let y = 1; y < h - 1; y++) {
    sum += grey[y * w] + grey[y * w + w - 1];
    n += 2;
  }
  return sum / n;
}

// Averages the box [x0, x0+bw) x [y0, y0+bh) of `grey` (w wide) into dw x dh pixels, each
// source pixel counted by the share of it that falls into each output pixel.
function areaResize(grey, w, x0, y0, bw, bh, dw, dh) {
  const out = new Float32Array(dw * dh);
  const sx = bw / dw;
  const sy = bh / dh;
  for (let oy = 0; oy < dh; oy++) {
    const ya = y0 + oy * sy;
    const yb = ya + sy;
    for (let ox = 0; ox < dw; ox++) {
      const xa = x0 + ox * sx;
      const xb = xa + sx;
      let sum = 0;
      for (let y = Math.floor(ya); y < Math.ceil(yb); y++) {
        const wy = Math.min(yb, y + 1) - Math.max(ya, y);
        for (let x = Math.floor(xa); x < Math.ceil(xb); x++) {
          const wx = Math.min(xb, x + 1) - Math.max(xa, x);
          sum += grey[y * w + x] * wx * wy;
        }
      }
      out[oy * dw + ox] = sum / (sx * sy);
    }
  }
  return out;
}

/**
 * A picture of any size as the model's 28x28 input. `mode`: 'auto' (invert when the border is
 * light), 'light' (invert) or 'dark' (keep). Returns { pixels, inverted }.
 */
function photoToInput(source, mode) {
  const scale = Math.min(1, WORK_SIZE / Math.max(source.width, source.height));
  const w = Math.max(1, Math.round(source.width * scale));
  const h = Math.max(1, Math.round(source.height * scale));
  const grey = greyOf(source, w, h);
  const bg = borderLevel(grey, w, h);
  const invert = mode === 'light' || (mode === 'auto' && bg > 0.5);

  // Trim: the bounding box of the pixels that differ from the border.
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (Math.abs(grey[y * w + x] - bg) > TRIM_TOLERANCE) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) {
    x0 = 0;
    y0 = 0;
    x1 = w - 1;
    y1 = h - 1;
  }
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const dw = Math.max(1, Math.round((SIDE * bw) / Math.max(bw, bh)));
  const dh = Math.max(1, Math.round((SIDE * bh) / Math.max(bw, bh)));
  const small = areaResize(grey, w, x0, y0, bw, bh, dw, dh);

  // Centre on a black 28x28; the border's level becomes 0 (black) and the item's contrast is kept.
  const pixels = new Float32Array(SIDE * SIDE);
  const ox = Math.floor((SIDE - dw) / 2);
  const oy = Math.floor((SIDE - dh) / 2);
  const bgOut = invert ? 1 - bg : bg;
  const span = Math.max(1e-3, 1 - bgOut);
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      const v = invert ? 1 - small[y * dw + x] : small[y * dw + x];
      pixels[(oy + y) * SIDE + ox + x] = Math.min(1, Math.max(0, (v - bgOut) / span));
    }
  }
  return { pixels, inverted: invert };
}

// ---- showing ----

function showSource(source) {
  const ctx = sourceCanvas.getContext('2d');
  const { width: W, height: H } = sourceCanvas;
  ctx.clearRect(0, 0, W, H);
  const s = Math.min(W / source.width, H / source.height);
  const w = source.width * s;
  const h = source.height * s;
  ctx.imageSmoothingEnabled = source.width > W; // keep the 28x28 samples' pixels sharp
  ctx.drawImage(source, (W - w) / 2, (H - h) / 2, w, h);
}

function showModelInput(pixels) {
  const ctx = modelCanvas.getContext('2d');
  const img = ctx.createImageData(SIDE, SIDE);
  for (let i = 0; i < SIDE * SIDE; i++) {
    const v = Math.round(pixels[i] * 255);
    img.data[4 * i] = v;
    img.data[4 * i + 1] = v;
    img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// ---- the model ----

let labels = [];
let sessionReady = null;
let runs = 0;

async function classify(pixels, note) {
  try {
    const session = await sessionReady;
    showModelInput(pixels);
    const image = new Tensor('float32', pixels, [1, 1, SIDE, SIDE]);
    const t0 = performance.now();
    const { probs } = await session.run({ image });
    const ms = performance.now() - t0;
    const p = probs.data;
    const order = ui.rank(p).slice(0, 3);
    ui.renderBars(bars, order.map((i) => labels[i]), order.map((i) => p[i]));
    topClass.textContent = labels[order[0]];
    topClass.dataset.label = labels[order[0]];
    topSub.textContent = `${ui.formatPercent(p[order[0]])} sure${note ? ` · ${note}` : ''}`;
    latency.textContent = ui.formatMs(ms);
    errorBox.hidden = true;
  } catch (err) {
    ui.showError(errorBox, err);
  } finally {
    topClass.dataset.runs = String(++runs);
  }
}

async function loadImage(url) {
  const img = new Image();
  img.src = url;
  await img.decode();
  return img;
}

function pressed(button) {
  for (const b of sampleBox.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
}

async function trySample(label, button) {
  pressed(button);
  try {
    const img = await loadImage(`models/fashion/samples/${slug(label)}.png`);
    showSource(img);
    // A data set image: only grey level / 255.
    const grey = greyOf(img, SIDE, SIDE);
    await classify(grey, `test picture labelled ${label}`);
  } catch (err) {
    ui.showError(errorBox, err);
  }
}

let lastPhoto = null;

async function tryPhoto(file) {
  pressed(null);
  if (!file.type.startsWith('image/')) {
    ui.showError(errorBox, new Error(`${file.name} is not an image (${file.type || 'unknown type'})`));
    return;
  }
  try {
    lastPhoto = await createImageBitmap(file);
  } catch (err) {
    ui.showError(errorBox, new Error(`cannot read ${file.name} as an image: ${err.message}`));
    return;
  }
  await classifyPhoto();
}

async function classifyPhoto() {
  if (!lastPhoto) return;
  showSource(lastPhoto);
  const { pixels, inverted } = photoToInput(lastPhoto, background.value);
  await classify(pixels, inverted ? 'inverted: light background' : 'kept: dark background');
}

function setUpUpload() {
  const drop = document.getElementById('drop');
  const input = document.getElementById('upload');
  input.addEventListener('change', () => {
    if (input.files[0]) tryPhoto(input.files[0]);
    input.value = '';
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer.files[0];
    if (file) tryPhoto(file);
  });
  background.addEventListener('change', classifyPhoto);
}

async function main() {
  const index = await (await fetch('models/index.json')).json();
  if (!index.models.includes('fashion')) {
    document.getElementById('missing').hidden = false;
    document.getElementById('demo').hidden = true;
    return;
  }
  sessionReady = InferenceSession.create('models/fashion/model.onnx');
  const r = await fetch('models/fashion/labels.json');
  if (!r.ok) throw new Error(`cannot load models/fashion/labels.json: HTTP ${r.status}`);
  labels = await r.json();
  ui.renderBars(bars, ['–', '–', '–'], null);
  for (const label of labels) {
    const b = ui.el('button', 'thumb');
    b.type = 'button';
    b.dataset.label = label;
    b.setAttribute('aria-pressed', 'false');
    const img = ui.el('img');
    img.src = `models/fashion/samples/${slug(label)}.png`;
    img.alt = '';
    const name = ui.el('span');
    // 'T-shirt/top' may break after the slash, not inside a word.
    label.split('/').forEach((part, i) => {
      if (i) name.append('/', document.createElement('wbr'));
      name.append(part);
    });
    b.append(img, name);
    b.addEventListener('click', () => trySample(label, b));
    sampleBox.append(b);
  }
  setUpUpload();
  await sessionReady;
  status.textContent = 'Model ready';
  status.className = 'badge ok';
}

main().catch((err) => {
  status.textContent = 'Failed';
  status.className = 'badge bad';
  ui.showError(errorBox, err);
});
