// Number formats shared by the report and the charts.

/** 123 ns, 1.23 µs, 12.3 ms: three significant digits. */
export function formatNs(ns) {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return "—";
  const units = [[1e9, "s"], [1e6, "ms"], [1e3, "µs"], [1, "ns"]];
  for (const [scale, unit] of units) {
    if (ns >= scale || unit === "ns") {
      const v = ns / scale;
      return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${unit}`;
    }
  }
  return `${ns} ns`;
}

export const formatMs = (ms) => (ms === null || ms === undefined ? "—" : formatNs(ms * 1e6));

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  const sign = bytes < 0 ? "−" : "";
  const b = Math.abs(bytes);
  if (b >= 1024 * 1024) return `${sign}${(b / 1024 / 1024).toFixed(1)} MiB`;
  if (b >= 1024) return `${sign}${(b / 1024).toFixed(0)} KiB`;
  return `${sign}${b} B`;
}

export const ratio = (x) => `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×`;
