// What every demo page shares: the service worker registration (so the pages work offline after
// the first visit), the footer's offline status, and the small widgets the pages draw their
// results with (probability bars, error notices). A classic script that defines `demoUI`; the
// pages load it before their own script, whether that is a classic script or an ES module.

(function () {
  'use strict';

  // ---- offline support ----

  function setStatus(text, kind) {
    const el = document.getElementById('offline-status');
    if (!el) return;
    el.textContent = text;
    el.className = `badge ${kind || ''}`.trim();
  }

  function registerServiceWorker() {
    if (!('serviceWorker' in navigator)) {
      setStatus('Offline mode needs a browser with service workers');
      return;
    }
    if (navigator.serviceWorker.controller) setStatus('Works offline', 'ok');
    else setStatus('Preparing offline copy…');
    navigator.serviceWorker.register('sw.js').then((reg) => {
      const ready = () => setStatus('Works offline', 'ok');
      if (reg.active) ready();
      navigator.serviceWorker.ready.then(ready);
    }, (err) => {
      setStatus('Offline copy unavailable');
      console.warn(`service worker registration failed: ${err.message}`);
    });
  }

  registerServiceWorker();

  // ---- widgets ----

  /** Milliseconds, with as many decimals as are meaningful. */
  function formatMs(ms) {
    if (ms < 0.01) return ms > 0 ? '<0.01 ms' : '0 ms';
    if (ms < 1) return `${ms.toFixed(2)} ms`;
    if (ms < 100) return `${ms.toFixed(1)} ms`;
    return `${Math.round(ms)} ms`;
  }

  function formatPercent(p) {
    const v = p * 100;
    if (v >= 99.95) return '100%';
    if (v < 0.05) return '0%';
    return `${v.toFixed(1)}%`;
  }

  function formatBytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(2)} MB`;
  }

  /** Indices of `values`, largest value first. */
  function rank(values) {
    return Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[b] - values[a]);
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /**
   * Draws one bar per label into `container` (made once, then updated in place so the widths
   * animate). `probs` may be null to show empty bars. The largest value is highlighted.
   */
  function renderBars(container, labels, probs) {
    if (container.childElementCount !== labels.length) {
      container.replaceChildren();
      for (const label of labels) {
        const row = el('div', 'bar-row');
        row.append(el('span', 'label', label));
        const track = el('span', 'track');
        track.append(el('span', 'fill'));
        row.append(track, el('span', 'value', '–'));
        container.append(row);
      }
    }
    const top = probs ? rank(probs)[0] : -1;
    labels.forEach((label, i) => {
      const row = container.children[i];
      const p = probs ? probs[i] : 0;
      row.querySelector('.label').textContent = label;
      row.classList.toggle('top', i === top);
      row.querySelector('.fill').style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
      row.querySelector('.value').textContent = probs ? formatPercent(p) : '–';
      row.title = probs ? `${label}: ${(p * 100).toFixed(3)}%` : label;
    });
  }

  /** Shows an error (an EdgeInferError's message names the node, op and shapes involved). */
  function showError(target, err) {
    const name = err && err.name === 'EdgeInferError' ? `EdgeInferError (${err.code})` : (err && err.name) || 'Error';
    target.hidden = false;
    target.className = 'notice error';
    target.textContent = `${name}: ${(err && err.message) || err}`;
  }

  window.demoUI = { formatMs, formatPercent, formatBytes, rank, el, renderBars, showError };
})();
