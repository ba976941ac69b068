// Two small drawings: a line chart with axes, and a force-directed graph. Both are computed
// once and drawn as static SVG; colours come from CSS classes, so they follow the theme.

import { s } from './dom.js';

function ticks(min, max, count = 5) {
  return Array.from({ length: count }, (_, i) => min + ((max - min) * i) / (count - 1));
}

/** Whole-number ticks (steps), at most six. */
function intTicks(min, max) {
  const step = Math.max(1, Math.ceil((max - min) / 5));
  const out = [];
  for (let x = Math.ceil(min); x <= max; x += step) out.push(x);
  return out;
}

const label = (value) => (Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(3)).toString());

/**
 * series: [{name, cls, points: [[x, y], ...]}]. Returns an <svg role=img> with both axes,
 * their tick labels and titles, one polyline per series and a legend.
 */
export function lineChart(series, { title, xLabel, yLabel, xMin, xMax, width = 640, height = 280 }) {
  const m = { left: 56, right: 16, top: 30, bottom: 44 };
  const all = series.flatMap((one) => one.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(xMin ?? Infinity, ...xs), Math.max(xMax ?? -Infinity, ...xs), Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  // Round the value axis out to whole multiples of 1, 2 or 5 × 10^k, so its ticks read well.
  const raw = (y1 - y0) / 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  const yStep = [1, 2, 5, 10].map((f) => f * power).find((f) => f >= raw);
  [y0, y1] = [Math.floor(y0 / yStep) * yStep, Math.ceil(y1 / yStep) * yStep];
  const px = (x) => m.left + ((x - x0) / (x1 - x0)) * (width - m.left - m.right);
  const py = (y) => height - m.bottom - ((y - y0) / (y1 - y0)) * (height - m.top - m.bottom);
  const bottom = height - m.bottom;
  return s(
    'svg',
    { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, class: 'chart' },
    s('title', { text: title }),
    s('line', { class: 'axis', x1: m.left, y1: bottom, x2: width - m.right, y2: bottom }),
    s('line', { class: 'axis', x1: m.left, y1: m.top, x2: m.left, y2: bottom }),
    (xs.every(Number.isInteger) ? intTicks(x0, x1) : ticks(x0, x1)).map((x) => [
      s('line', { class: 'tick', x1: px(x), y1: bottom, x2: px(x), y2: bottom + 4 }),
      s('text', { class: 'tick-label', x: px(x), y: bottom + 16, 'text-anchor': 'middle', text: label(x) }),
    ]),
    ticks(y0, y1, Math.round((y1 - y0) / yStep) + 1).map((y) => [
      s('line', { class: 'grid', x1: m.left, y1: py(y), x2: width - m.right, y2: py(y) }),
      s('text', { class: 'tick-label', x: m.left - 6, y: py(y) + 4, 'text-anchor': 'end', text: label(y) }),
    ]),
    s('text', { class: 'axis-title', x: (m.left + width - m.right) / 2, y: height - 6, 'text-anchor': 'middle', text: xLabel }),
    s('text', { class: 'axis-title', transform: `translate(14 ${(m.top + bottom) / 2}) rotate(-90)`, 'text-anchor': 'middle', text: yLabel }),
    series.map((one, i) => [
      s('polyline', { class: `series ${one.cls}`, fill: 'none', points: one.points.map(([x, y]) => `${px(x)},${py(y)}`).join(' ') }),
      one.points.map(([x, y]) => s('circle', { class: `dot ${one.cls}`, cx: px(x), cy: py(y), r: 3 }, s('title', { text: `${one.name} step ${x}: ${label(y)}` }))),
      s('text', { class: `legend ${one.cls}`, x: m.left + i * 64, y: 16, text: `● ${one.name}` }),
    ]),
  );
}

/**
 * Place nodes by a Fruchterman–Reingold layout: every pair repels, every edge pulls, a fixed
 * number of cooling iterations. Deterministic: the same graph is drawn the same way.
 */
function layout(count, edges, width, height, iterations = 300) {
  const k = Math.sqrt((width * height) / Math.max(count, 1)) * 0.5;
  const radius = Math.min(width, height) / 2.5;
  const pos = Array.from({ length: count }, (_, i) => {
    const r = radius * Math.sqrt((i + 0.5) / count);
    return [width / 2 + r * Math.cos(i * 2.39996), height / 2 + r * Math.sin(i * 2.39996)];
  });
  let heat = width / 8;
  for (let step = 0; step < iterations; step++) {
    const move = pos.map(([x, y]) => [(width / 2 - x) * 0.05, (height / 2 - y) * 0.05]);
    for (let i = 0; i < count; i++) {
      for (let j = i + 1; j < count; j++) {
        const dx = pos[i][0] - pos[j][0];
        const dy = pos[i][1] - pos[j][1];
        const d = Math.max(Math.hypot(dx, dy), 0.01);
        if (d > 3 * k) continue; // far nodes do not push: loners stay near the middle
        const f = (k * k) / d / d;
        move[i][0] += dx * f; move[i][1] += dy * f;
        move[j][0] -= dx * f; move[j][1] -= dy * f;
      }
    }
    for (const [a, b] of edges) {
      const dx = pos[a][0] - pos[b][0];
      const dy = pos[a][1] - pos[b][1];
      const f = Math.hypot(dx, dy) / k;
      move[a][0] -= dx * f; move[a][1] -= dy * f;
      move[b][0] += dx * f; move[b][1] += dy * f;
    }
    pos.forEach((p, i) => {
      const length = Math.max(Math.hypot(...move[i]), 0.01);
      const d = Math.min(length, heat);
      p[0] = Math.min(width - 40, Math.max(40, p[0] + (move[i][0] / length) * d));
      p[1] = Math.min(height - 20, Math.max(20, p[1] + (move[i][1] / length) * d));
    });
    heat = Math.max(heat * 0.97, 0.5);
  }
  return pos;
}

/** nodes: [{label, kind, size, owner}], edges: [[from, to, label]] by node index. */
export function graph(nodes, edges, { title, width = 720, height = 480 }) {
  const pos = layout(nodes.length, edges, width, height);
  return s(
    'svg',
    { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, class: 'graph' },
    s('title', { text: title }),
    edges.map(([a, b, text]) =>
      s('line', { class: 'edge', x1: pos[a][0], y1: pos[a][1], x2: pos[b][0], y2: pos[b][1] },
        s('title', { text: `${nodes[a].label} — ${text} — ${nodes[b].label}` }))),
    nodes.map((node, i) =>
      s('g', { class: `node kind-${node.kind}${node.owner ? ' owner' : ''}`, transform: `translate(${pos[i][0].toFixed(1)} ${pos[i][1].toFixed(1)})` },
        s('circle', { r: 5 + Math.min(node.size, 10) }),
        s('text', { x: 0, y: -9 - Math.min(node.size, 10), 'text-anchor': 'middle', text: node.label }),
        s('title', { text: `${node.label} (${node.kind})` }))),
  );
}
