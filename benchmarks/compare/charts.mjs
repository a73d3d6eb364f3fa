// The report's two charts as plain SVG: median latency per engine per
// workload (bars, log scale), and median latency against rule count (log-log).
import { formatNs } from "./format.mjs";

export const COLORS = {
  warden: "#2563eb", "warden-uncached": "#60a5fa", baseline: "#6b7280", cedar: "#d97706", casbin: "#059669", casl: "#7c3aed", opa: "#dc2626",
};

const FONT = `font-family="system-ui, -apple-system, 'Segoe UI', sans-serif"`;
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Powers of ten covering [lo, hi]. */
function decades(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

function legend(engines, x, y) {
  return engines.map((e, i) => `
  <rect x="${x + i * 130}" y="${y - 10}" width="12" height="12" rx="2" fill="${COLORS[e.id]}"/>
  <text x="${x + i * 130 + 18}" y="${y}" font-size="13" ${FONT}>${esc(e.label)}</text>`).join("");
}

/** A power of ten of nanoseconds as an axis label: 10 ns, 1 µs, 100 ms. */
function decadeLabel(ns) {
  for (const [scale, unit] of [[1e9, "s"], [1e6, "ms"], [1e3, "µs"], [1, "ns"]]) {
    if (ns >= scale) return `${Math.round(ns / scale)} ${unit}`;
  }
  return formatNs(ns);
}

function yAxis(ticks, yOf, left, right) {
  return ticks.map((t) => `
  <line x1="${left}" x2="${right}" y1="${yOf(t).toFixed(1)}" y2="${yOf(t).toFixed(1)}" stroke="#e5e7eb"/>
  <text x="${left - 8}" y="${(yOf(t) + 4).toFixed(1)}" font-size="12" text-anchor="end" fill="#374151" ${FONT}>${decadeLabel(t)}</text>`).join("");
}

/**
 * Grouped bars: one group per workload, one bar per engine, heights on a log scale.
 * engines: [{id, label}], workloads: [{id, label}], value(engineId, workloadId) → ns or null.
 */
export function barChart({ title, subtitle, engines, workloads, value }) {
  const W = 1000, H = 520, left = 80, right = W - 20, top = 90, bottom = H - 70;
  const values = engines.flatMap((e) => workloads.map((w) => value(e.id, w.id))).filter((v) => v > 0);
  const ticks = decades(Math.min(...values), Math.max(...values));
  const lo = ticks[0], hi = ticks[ticks.length - 1];
  const yOf = (v) => bottom - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (bottom - top);
  const group = (right - left) / workloads.length;
  const bar = (group * 0.8) / engines.length;
  let bars = "";
  workloads.forEach((w, wi) => {
    const gx = left + wi * group + group * 0.1;
    engines.forEach((e, ei) => {
      const v = value(e.id, w.id);
      if (!(v > 0)) return;
      const y = yOf(v);
      bars += `
  <rect x="${(gx + ei * bar).toFixed(1)}" y="${y.toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${(bottom - y).toFixed(1)}" fill="${COLORS[e.id]}"><title>${esc(`${e.label}, ${w.label}: ${formatNs(v)}`)}</title></rect>`;
    });
    bars += `
  <text x="${(left + wi * group + group / 2).toFixed(1)}" y="${bottom + 20}" font-size="12" text-anchor="middle" fill="#111827" ${FONT}>${esc(w.short ?? w.label)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">
  <rect width="${W}" height="${H}" fill="#ffffff"/>
  <text x="${left}" y="28" font-size="18" font-weight="600" ${FONT}>${esc(title)}</text>
  <text x="${left}" y="48" font-size="12" fill="#4b5563" ${FONT}>${esc(subtitle)}</text>${legend(engines, left, 74)}${yAxis(ticks, yOf, left, right)}
  <line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#9ca3af"/>${bars}
  <text x="${left}" y="${H - 18}" font-size="11" fill="#6b7280" ${FONT}>median time per decision, log scale; lower is better</text>
</svg>
`;
}

/**
 * Lines on log-log axes: x the rule count, y the median, one line per engine;
 * `guide` draws a dashed horizontal line ({value, label}).
 */
export function lineChart({ title, subtitle, engines, sizes, value, guide }) {
  const W = 1000, H = 520, left = 80, right = W - 40, top = 90, bottom = H - 70;
  const values = engines.flatMap((e) => sizes.map((n) => value(e.id, n))).filter((v) => v > 0);
  if (guide) values.push(guide.value);
  const ticks = decades(Math.min(...values), Math.max(...values));
  const lo = ticks[0], hi = ticks[ticks.length - 1];
  const yOf = (v) => bottom - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (bottom - top);
  const xlo = Math.log10(sizes[0]), xhi = Math.log10(sizes[sizes.length - 1]);
  const xOf = (n) => left + 30 + ((Math.log10(n) - xlo) / (xhi - xlo)) * (right - left - 60);
  let lines = "";
  for (const e of engines) {
    const points = sizes.map((n) => [n, value(e.id, n)]).filter(([, v]) => v > 0);
    if (points.length === 0) continue;
    lines += `
  <polyline fill="none" stroke="${COLORS[e.id]}" stroke-width="2.5" points="${points.map(([n, v]) => `${xOf(n).toFixed(1)},${yOf(v).toFixed(1)}`).join(" ")}"/>`;
    for (const [n, v] of points) {
      lines += `
  <circle cx="${xOf(n).toFixed(1)}" cy="${yOf(v).toFixed(1)}" r="4" fill="${COLORS[e.id]}"><title>${esc(`${e.label}, ${n} rules: ${formatNs(v)}`)}</title></circle>`;
    }
  }
  const xTicks = sizes.map((n) => `
  <line x1="${xOf(n).toFixed(1)}" x2="${xOf(n).toFixed(1)}" y1="${top}" y2="${bottom}" stroke="#f3f4f6"/>
  <text x="${xOf(n).toFixed(1)}" y="${bottom + 20}" font-size="12" text-anchor="middle" fill="#111827" ${FONT}>${n.toLocaleString("en-US")}</text>`).join("");
  const guideLine = guide ? `
  <line x1="${left}" x2="${right}" y1="${yOf(guide.value).toFixed(1)}" y2="${yOf(guide.value).toFixed(1)}" stroke="${COLORS.warden}" stroke-dasharray="6 4" stroke-width="1.2"/>
  <text x="${right - 4}" y="${(yOf(guide.value) - 6).toFixed(1)}" font-size="11" text-anchor="end" fill="${COLORS.warden}" ${FONT}>${esc(guide.label)}</text>` : "";
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">
  <rect width="${W}" height="${H}" fill="#ffffff"/>
  <text x="${left}" y="28" font-size="18" font-weight="600" ${FONT}>${esc(title)}</text>
  <text x="${left}" y="48" font-size="12" fill="#4b5563" ${FONT}>${esc(subtitle)}</text>${legend(engines, left, 74)}${yAxis(ticks, yOf, left, right)}${xTicks}
  <line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#9ca3af"/>${guideLine}${lines}
  <text x="${left}" y="${H - 18}" font-size="11" fill="#6b7280" ${FONT}>rules in the policy (log scale) against median time per decision (log scale); lower is better, flat is better</text>
</svg>
`;
}
