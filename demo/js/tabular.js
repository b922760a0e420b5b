// Tumour classifier: a form of the 30 inputs of models/cancer/model.onnx (input "features"
// [N,30] float32 raw measurements, output "probs" [N,2]: malignant, benign), built from
// models/cancer/features.json (name and training min/mean/std/max of every column, in input
// order). Every change runs the model again.
//
// A classic script: it uses the global `edgeinfer` that dist/edgeinfer.js defines, and
// loads js/npy.mjs with import() for the held-out cases.

(function () {
  'use strict';

  const { InferenceSession, Tensor } = edgeinfer;
  const ui = window.demoUI;

  const form = document.getElementById('features');
  const status = document.getElementById('model-status');
  const errorBox = document.getElementById('error');
  const verdict = document.getElementById('verdict');
  const verdictSub = document.getElementById('verdict-sub');
  const latency = document.getElementById('latency');
  const caseSelect = document.getElementById('case');
  document.getElementById('version').textContent = edgeinfer.version;

  const GROUPS = [
    { title: 'Mean over the nuclei', test: (n) => n.startsWith('mean '), base: (n) => n.slice(5) },
    { title: 'Standard error', test: (n) => n.endsWith(' error'), base: (n) => n.slice(0, -6) },
    { title: 'Worst (mean of the three largest)', test: (n) => n.startsWith('worst '), base: (n) => n.slice(6) },
  ];

  function capitalise(s) {
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  // A slider step of about 1/500 of the range, rounded to a power of ten.
  function stepFor(f) {
    const range = f.max - f.min || Math.abs(f.mean) || 1;
    return 10 ** Math.floor(Math.log10(range / 500));
  }

  function decimals(step) {
    return Math.max(0, -Math.floor(Math.log10(step)));
  }

  async function loadJson(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`cannot load ${url}: HTTP ${r.status}`);
    return r.json();
  }

  async function loadBytes(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`cannot load ${url}: HTTP ${r.status}`);
    return r.arrayBuffer();
  }

  // ---- the form ----

  let spec = null; // features.json
  let values = null; // Float32Array [30], what the model gets
  const controls = []; // per feature: {row, range, number}

  function setValue(i, v, from) {
    const f = spec.features[i];
    const c = controls[i];
    values[i] = v;
    if (from !== c.range) c.range.value = String(Math.min(Math.max(v, Number(c.range.min)), Number(c.range.max)));
    if (from !== c.number) c.number.value = v.toFixed(c.decimals);
    c.row.classList.toggle('changed', Math.abs(v - f.mean) > c.step / 2);
  }

  function buildForm() {
    const byGroup = GROUPS.map(() => []);
    spec.features.forEach((f, i) => {
      const g = GROUPS.findIndex((grp) => grp.test(f.name));
      byGroup[g < 0 ? 0 : g].push(i);
    });
    GROUPS.forEach((grp, g) => {
      if (!byGroup[g].length) return;
      const section = ui.el('fieldset', 'feature-group');
      const legend = ui.el('legend', '', grp.title);
      section.append(legend);
      for (const i of byGroup[g]) {
        const f = spec.features[i];
        const step = stepFor(f);
        const row = ui.el('div', 'feature-row');
        const id = `f${i}`;
        const label = ui.el('label', '', capitalise(GROUPS[g].test(f.name) ? grp.base(f.name) : f.name));
        label.htmlFor = id;
        label.title = `${f.name}: training range ${f.min} … ${f.max}, mean ${f.mean}, std ${f.std}`;
        const range = document.createElement('input');
        range.type = 'range';
        range.min = String(f.min);
        range.max = String(f.max);
        range.step = String(step);
        range.setAttribute('aria-label', `${f.name} (slider)`);
        range.dataset.index = String(i);
        const number = document.createElement('input');
        number.type = 'number';
        number.id = id;
        number.step = String(step);
        number.inputMode = 'decimal';
        number.dataset.index = String(i);
        number.name = f.name;
        controls[i] = { row, range, number, step, decimals: decimals(step) };
        row.append(label, range, number);
        section.append(row);
      }
      form.append(section);
    });
    form.addEventListener('input', (e) => {
      const i = Number(e.target.dataset.index);
      if (!Number.isInteger(i)) return;
      const v = Number(e.target.value);
      if (e.target.value === '' || !Number.isFinite(v)) return; // half-typed: keep the last value
      setValue(i, v, e.target);
      caseSelect.value = '';
      predict();
    });
    // A number field left empty goes back to the value the model is using.
    form.addEventListener('change', (e) => {
      const i = Number(e.target.dataset.index);
      if (Number.isInteger(i)) setValue(i, values[i]);
    });
  }

  function resetToMeans() {
    spec.features.forEach((f, i) => setValue(i, f.mean));
    caseSelect.value = '';
    predict();
  }

  // ---- prediction ----

  const sessionReady = InferenceSession.create('models/cancer/model.onnx');
  let busy = false;
  let again = false;

  async function predict() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        const session = await sessionReady;
        const features = new Tensor('float32', values.slice(), [1, values.length]);
        const t0 = performance.now();
        const { probs } = await session.run({ features });
        const ms = performance.now() - t0;
        show(probs.data, ms);
      } while (again);
    } catch (err) {
      ui.showError(errorBox, err);
    } finally {
      busy = false;
    }
  }

  function show(p, ms) {
    const [malignant, benign] = p;
    const classes = spec.classes || ['malignant', 'benign'];
    const top = malignant > benign ? 0 : 1;
    verdict.textContent = capitalise(classes[top]);
    verdict.dataset.label = classes[top];
    verdict.dataset.probs = `${malignant},${benign}`;
    verdictSub.textContent = `${ui.formatPercent(p[top])} probability of ${classes[top]}`;
    document.getElementById('gauge-a').style.width = `${malignant * 100}%`;
    document.getElementById('gauge-b').style.width = `${benign * 100}%`;
    document.getElementById('p-malignant').textContent = `${classes[0]} ${ui.formatPercent(malignant)}`;
    document.getElementById('p-benign').textContent = `${classes[1]} ${ui.formatPercent(benign)}`;
    latency.textContent = ui.formatMs(ms);
    errorBox.hidden = true;
  }

  // ---- held-out cases ----

  async function loadCases() {
    const { parseNpy } = await import('./npy.mjs');
    const [x, y] = await Promise.all([loadBytes('models/cancer/test_x.npy'), loadBytes('models/cancer/test_y.npy')]);
    const xs = parseNpy(x);
    const ys = parseNpy(y);
    const n = xs.shape[0];
    const width = xs.shape[1];
    if (width !== spec.features.length) throw new Error(`test_x.npy has ${width} columns; features.json lists ${spec.features.length}`);
    const classes = spec.classes || ['malignant', 'benign'];
    for (let k = 0; k < n; k++) {
      const o = document.createElement('option');
      o.value = String(k);
      o.textContent = `Case ${k + 1} (${classes[Number(ys.data[k])]})`;
      caseSelect.append(o);
    }
    caseSelect.addEventListener('change', () => {
      if (caseSelect.value === '') return;
      const k = Number(caseSelect.value);
      for (let i = 0; i < width; i++) setValue(i, xs.data[k * width + i]);
      predict();
    });
  }

  (async () => {
    try {
      spec = await loadJson('models/cancer/features.json');
      values = new Float32Array(spec.features.length);
      buildForm();
      resetToMeans();
      document.getElementById('reset').addEventListener('click', resetToMeans);
      await sessionReady;
      status.textContent = 'Model ready';
      status.className = 'badge ok';
      await loadCases();
    } catch (err) {
      status.textContent = 'Failed';
      status.className = 'badge bad';
      ui.showError(errorBox, err);
    }
  })();
})();
