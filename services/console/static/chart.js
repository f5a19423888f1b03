// Line charts drawn as SVG from real data points only. A chart with no points says so.

import {h, s, clock} from './dom.js';

const W = 600;
const H = 180;
const pad = {l: 46, r: 12, t: 12, b: 24};
const maxCircles = 400; // beyond this many points, lines only
const palette = ['blue', 'violet', 'amber', 'teal', 'red'];

// niceStep is the smallest 1, 2 or 5 × 10^k that is at least x.
function niceStep(x) {
  if (x <= 0) return 1;
  const e = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= x) return m * e;
  return 10 * e;
}

const timeSteps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map(x => x * 1000);

// timeTicks are round times between from and to, at most six of them.
function timeTicks(from, to) {
  const span = to - from;
  const step = timeSteps.find(st => span / st <= 6) || timeSteps[timeSteps.length - 1];
  const tz = new Date(from).getTimezoneOffset() * 60000;
  const ticks = [];
  for (let t = Math.ceil((from - tz) / step) * step + tz; t <= to; t += step) ticks.push(t);
  return {ticks, seconds: step < 60000};
}

// segments splits sorted points where the gap between two is far larger than usual (a sampler
// that was not running), so that no line is drawn across a time nobody measured.
function segments(points) {
  if (points.length < 3) return [points];
  const gaps = [];
  for (let i = 1; i < points.length; i++) gaps.push(points[i].t - points[i - 1].t);
  const median = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)];
  const out = [[points[0]]];
  for (let i = 1; i < points.length; i++) {
    if (gaps[i - 1] > 3 * median) out.push([]);
    out[out.length - 1].push(points[i]);
  }
  return out;
}

// chart draws series over [from, to] (milliseconds):
//   title, series: [{label, color, points: [{t, v}]}], format: value → text, integer: counts
//   only, empty: what to say without points (default "no data yet"), note: a line under it.
// Colours are blue, violet, amber, teal and red (by default in that order).
// The returned element carries data-points, the number of points drawn.
export function chart({title, series, from, to, format = String, integer = false, empty = 'no data yet', note = ''}) {
  const k = i => 'k-' + (series[i].color || palette[i % palette.length]);
  const all = series.flatMap(se => se.points.filter(p => p.t >= from && p.t <= to && Number.isFinite(p.v)));
  const root = h('figure', {class: 'chart', 'data-title': title, 'data-points': all.length});
  const legend = h('div', {class: 'legend'}, series.map((se, i) =>
    h('span', {class: 'key'}, h('i', {class: 'swatch ' + k(i)}), se.label)));
  root.append(h('figcaption', null, h('span', {class: 'chart-title'}, title), legend));

  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, class: 'plot', role: 'img', 'aria-label': title});
  root.append(svg);
  if (note) root.append(h('div', {class: 'chart-note'}, note));
  const x = t => pad.l + ((t - from) / (to - from)) * (W - pad.l - pad.r);
  const max = Math.max(0, ...all.map(p => p.v));
  let step = niceStep(max / 4);
  if (integer) step = Math.max(1, Math.ceil(step));
  const top = Math.max(step, Math.ceil(max / step) * step);
  const y = v => pad.t + (1 - v / top) * (H - pad.t - pad.b);

  // Grid and axes.
  for (let v = 0; v <= top + step / 2; v += step) {
    svg.append(s('line', {class: 'grid', x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v)}));
    svg.append(s('text', {class: 'tick', x: pad.l - 6, y: y(v) + 3.5, 'text-anchor': 'end'}, all.length ? format(v) : ''));
  }
  const {ticks, seconds} = timeTicks(from, to);
  for (const t of ticks) {
    const label = seconds ? clock(t) : clock(t).slice(0, 5);
    svg.append(s('text', {class: 'tick', x: x(t), y: H - 6, 'text-anchor': 'middle'}, label));
  }
  if (!all.length) {
    root.classList.add('empty');
    svg.append(s('text', {class: 'empty-label', x: (W + pad.l) / 2, y: H / 2, 'text-anchor': 'middle'}, empty));
    return root;
  }

  // Lines, the first series' area, and the points.
  const drawn = series.map(se => se.points.filter(p => p.t >= from && p.t <= to && Number.isFinite(p.v)).sort((a, b) => a.t - b.t));
  // The first series is drawn last, on top: it is the one the chart is about.
  const order = drawn.map((_, i) => i).reverse();
  const path = seg => seg.map((p, j) => (j ? 'L' : 'M') + x(p.t).toFixed(1) + ' ' + y(p.v).toFixed(1)).join(' ');
  for (const seg of segments(drawn[0])) {
    if (seg.length < 2) continue;
    const base = y(0).toFixed(1);
    svg.append(s('path', {class: 'area ' + k(0), d: `${path(seg)} L${x(seg[seg.length - 1].t).toFixed(1)} ${base} L${x(seg[0].t).toFixed(1)} ${base} Z`}));
  }
  for (const i of order) {
    for (const seg of segments(drawn[i])) {
      if (seg.length) svg.append(s('path', {class: 'line ' + k(i), d: path(seg)}));
    }
  }
  // A marker per point, unless there are so many that they would blot the line; in a long
  // series of steps the zeros go without one, so that what happened stands out.
  if (all.length <= maxCircles) {
    order.forEach(i => {
      const pts = drawn[i];
      const dense = pts.length > 40;
      for (const p of pts) {
        if (dense && p.v === 0) continue;
        svg.append(s('circle', {class: 'pt ' + k(i), cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: dense ? 2.6 : 2.2}));
      }
    });
  }
  hover(root, svg, drawn, series.map((se, i) => ({label: se.label, cls: k(i)})), x, format);
  return root;
}

// hover shows the values nearest the pointer in a tooltip.
function hover(root, svg, drawn, keys, x, format) {
  const guide = s('line', {class: 'guide', y1: pad.t, y2: H - pad.b, x1: 0, x2: 0, visibility: 'hidden'});
  const tip = h('div', {class: 'tip', hidden: true});
  const area = s('rect', {class: 'hit', x: pad.l, y: pad.t, width: W - pad.l - pad.r, height: H - pad.t - pad.b});
  svg.append(guide, area);
  root.append(tip);
  area.addEventListener('mousemove', ev => {
    const box = svg.getBoundingClientRect();
    const px = ((ev.clientX - box.left) / box.width) * W;
    let best = null;
    drawn.forEach(pts => {
      for (const p of pts) if (!best || Math.abs(x(p.t) - px) < Math.abs(x(best.t) - px)) best = p;
    });
    if (!best) return;
    const rows = drawn.map((pts, i) => {
      const p = pts.find(q => q.t === best.t);
      return p ? h('div', null, h('i', {class: 'swatch ' + k(i)}), series[i].label + ' ', h('b', null, format(p.v))) : null;
    });
    tip.replaceChildren(h('div', {class: 'tip-time'}, clock(best.t)), ...rows);
    tip.hidden = false;
    guide.setAttribute('x1', x(best.t));
    guide.setAttribute('x2', x(best.t));
    guide.setAttribute('visibility', 'visible');
    const left = (x(best.t) / W) * box.width;
    tip.style.left = Math.min(left + 12, box.width - tip.offsetWidth - 4) + 'px';
  });
  area.addEventListener('mouseleave', () => {
    tip.hidden = true;
    guide.setAttribute('visibility', 'hidden');
  });
}
