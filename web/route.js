// A day's route as a small inline SVG sketch: the places in visiting order, numbered, joined
// by a line, the night's lodging as a square. Built from the items' coordinates with DOM
// calls; no map tiles, nothing fetched.

import { svg } from './dom.js';
import { t } from './i18n.js';

const WIDTH = 320;
const HEIGHT = 180;
const PAD = 22;

/** The stops of a day that have coordinates: `{lat, lng, n, name, lodging}`. */
export function stops(day) {
  const out = [];
  let n = 0;
  for (const item of day.items || []) {
    if (typeof item.lat === 'number' && typeof item.lng === 'number') {
      n += 1;
      out.push({ lat: item.lat, lng: item.lng, n, name: item.name, lodging: false });
    }
  }
  const l = day.lodging;
  if (l && typeof l.lat === 'number' && typeof l.lng === 'number') {
    out.push({ lat: l.lat, lng: l.lng, n: null, name: l.name, lodging: true });
  }
  return out;
}

/** The sketch for day `index` (0-based), or null when no stop has coordinates. */
export function routeSketch(day, index) {
  const points = stops(day);
  if (points.length === 0) return null;
  const project = projection(points);
  const xy = separate(points.map((p) => ({ ...p, ...project(p) })));
  const label = t('routeLabel', { n: index + 1 });
  const root = svg('svg', {
    class: 'route',
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': label,
    'data-stops': xy.length,
  });
  root.append(svg('title', {}, label));
  root.append(svg('rect', { class: 'route-bg', x: 0, y: 0, width: WIDTH, height: HEIGHT, rx: 10 }));
  const visits = xy.filter((p) => !p.lodging);
  if (xy.length > 1) {
    root.append(svg('polyline', { class: 'route-line', points: xy.map((p) => `${p.x},${p.y}`).join(' ') }));
  }
  for (const p of xy) {
    const g = svg('g', { class: p.lodging ? 'stop lodging' : 'stop' });
    g.append(svg('title', {}, p.name));
    if (p.lodging) {
      g.append(svg('rect', { x: p.x - 8, y: p.y - 8, width: 16, height: 16, rx: 3 }));
      g.append(svg('text', { x: p.x, y: p.y + 4 }, 'H'));
    } else {
      g.append(svg('circle', { cx: p.x, cy: p.y, r: 10 }));
      g.append(svg('text', { x: p.x, y: p.y + 4 }, String(p.n)));
    }
    root.append(g);
  }
  root.dataset.visits = String(visits.length);
  return root;
}

/** Fits the points in the box, keeping distances true east-west and north-south. */
function projection(points) {
  const mid = (Math.min(...points.map((p) => p.lat)) + Math.max(...points.map((p) => p.lat))) / 2;
  const k = Math.cos((mid * Math.PI) / 180);
  const xs = points.map((p) => p.lng * k);
  const ys = points.map((p) => -p.lat);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const span = Math.max(x1 - x0, y1 - y0, 1e-6);
  const scale = Math.min((WIDTH - 2 * PAD) / Math.max(x1 - x0, span * 0.01), (HEIGHT - 2 * PAD) / Math.max(y1 - y0, span * 0.01));
  const offsetX = (WIDTH - (x1 - x0) * scale) / 2;
  const offsetY = (HEIGHT - (y1 - y0) * scale) / 2;
  return (p) => ({
    x: round(offsetX + (p.lng * k - x0) * scale),
    y: round(offsetY + (-p.lat - y0) * scale),
  });
}

/** Nudges markers that would cover one another (places next door) apart a little. */
function separate(points) {
  const placed = [];
  for (const p of points) {
    for (let tries = 0; tries < 6 && placed.some((q) => Math.hypot(q.x - p.x, q.y - p.y) < 18); tries++) {
      p.x = round(Math.min(WIDTH - 10, p.x + 12));
      p.y = round(Math.max(10, p.y - 8));
    }
    placed.push(p);
  }
  return points;
}

function round(v) {
  return Math.round(v * 10) / 10;
}
