// The demo's app icon, drawn without image libraries: a small network (three inputs, two
// outputs) in white on an indigo-violet square. pngIcon() rasterises it with 4x4 supersampling
// and encodes an RGBA PNG with node:zlib; svgIcon() is the same drawing as SVG, for the favicon.
// Shapes are in a 0..1 square; `maskable` shrinks the mark into the safe zone (the inner 80%)
// and fills the whole square, as platforms that crop icons to a circle expect.

import { deflateSync } from 'node:zlib';

const FROM = [0x4f, 0x46, 0xe5]; // top left
const TO = [0x7c, 0x3a, 0xed]; // bottom right
const INPUTS = [[0.3, 0.3], [0.3, 0.5], [0.3, 0.7]];
const OUTPUTS = [[0.7, 0.4], [0.7, 0.6]];
const NODE_R = 0.075;
const LINE_W = 0.035;
const CORNER = 0.22; // corner radius of the plain icon

function mark(scale) {
  const s = (p) => [0.5 + (p[0] - 0.5) * scale, 0.5 + (p[1] - 0.5) * scale];
  const lines = [];
  for (const a of INPUTS) for (const b of OUTPUTS) lines.push([s(a), s(b)]);
  const nodes = [...INPUTS, ...OUTPUTS].map(s);
  return { lines, nodes, r: NODE_R * scale, w: LINE_W * scale };
}

function distToSegment(px, py, [[ax, ay], [bx, by]]) {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

function insideRoundedSquare(x, y, r) {
  const qx = Math.max(Math.abs(x - 0.5) - (0.5 - r), 0);
  const qy = Math.max(Math.abs(y - 0.5) - (0.5 - r), 0);
  return Math.hypot(qx, qy) <= r;
}

// Colour of one point: [r, g, b, a] in 0..255.
function shade(x, y, m, maskable) {
  if (!maskable && !insideRoundedSquare(x, y, CORNER)) return [0, 0, 0, 0];
  const white = m.nodes.some(([cx, cy]) => Math.hypot(x - cx, y - cy) <= m.r) ||
    m.lines.some((l) => distToSegment(x, y, l) <= m.w / 2);
  if (white) return [255, 255, 255, 255];
  const t = (x + y) / 2;
  return [0, 1, 2].map((i) => FROM[i] + (TO[i] - FROM[i]) * t).concat(255);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An RGBA PNG of the icon, `size` pixels square. */
export function pngIcon(size, { maskable = false } = {}) {
  const m = mark(maskable ? 0.8 : 1);
  const SS = 4;
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    const row = y * (size * 4 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      const acc = [0, 0, 0, 0];
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const c = shade((x + (sx + 0.5) / SS) / size, (y + (sy + 0.5) / SS) / size, m, maskable);
          // Premultiplied, so that transparent samples do not darken the edge.
          for (let i = 0; i < 3; i++) acc[i] += (c[i] * c[3]) / 255;
          acc[3] += c[3];
        }
      }
      const a = acc[3] / (SS * SS);
      const o = row + 1 + x * 4;
      for (let i = 0; i < 3; i++) raw[o + i] = a ? Math.round((acc[i] / (SS * SS) / a) * 255) : 0;
      raw[o + 3] = Math.round(a);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The plain icon as SVG. */
export function svgIcon() {
  const m = mark(1);
  const n = (v) => +(v * 64).toFixed(2);
  const hex = (c) => `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
  const lines = m.lines.map(([[ax, ay], [bx, by]]) => `<line x1="${n(ax)}" y1="${n(ay)}" x2="${n(bx)}" y2="${n(by)}"/>`).join('');
  const nodes = m.nodes.map(([x, y]) => `<circle cx="${n(x)}" cy="${n(y)}" r="${n(m.r)}"/>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">` +
    `<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${hex(FROM)}"/>` +
    `<stop offset="1" stop-color="${hex(TO)}"/></linearGradient></defs>` +
    `<rect width="64" height="64" rx="${n(CORNER)}" fill="url(#g)"/>` +
    `<g stroke="#fff" stroke-width="${n(m.w)}" stroke-linecap="round">${lines}</g>` +
    `<g fill="#fff">${nodes}</g></svg>\n`;
}
