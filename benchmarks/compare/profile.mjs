// CPU profiles of Warden's decisions (node --cpu-prof), summarised: self time
// by function, with warden.wasm's functions named from the engine's own
// build/warden.wat (the release build has no name section, so V8 reports
// them as wasm-function[N]), and grouped into where the time goes.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));

function readLeb(bytes, at) {
  let value = 0;
  let shift = 0;
  let b;
  do {
    b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return [value, at];
}

/** Exported function indices of a wasm binary: {name: index}. */
function exportIndices(bytes) {
  const out = {};
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at++];
    let size;
    [size, at] = readLeb(bytes, at);
    if (id === 7) {
      let p = at;
      let count;
      [count, p] = readLeb(bytes, p);
      for (let i = 0; i < count; i++) {
        let len;
        [len, p] = readLeb(bytes, p);
        const name = new TextDecoder().decode(bytes.subarray(p, p + len));
        p += len;
        const kind = bytes[p++];
        let index;
        [index, p] = readLeb(bytes, p);
        if (kind === 0) out[name] = index;
      }
    }
    at += size;
  }
  return out;
}

/**
 * warden.wasm's function names by index, from build/warden.wat, when the two
 * are of one build: every export of the binary must name the same function in
 * the text. Otherwise null (and the profile keeps the indices).
 */
export function wardenFunctionNames() {
  try {
    const engine = realpathSync(`${here}/../node_modules/@warden/engine`);
    const wasm = readFileSync(`${engine}/build/warden.wasm`);
    const wat = readFileSync(`${engine}/build/warden.wat`, "utf8");
    if (/^\s*\(import\s/m.test(wat)) return null;
    const names = [...wat.matchAll(/^ \(func \$(\S+)/gm)].map((m) => m[1]);
    const watExports = Object.fromEntries([...wat.matchAll(/^ \(export "([^"]+)" \(func \$(\S+)\)\)/gm)].map((m) => [m[1], m[2]]));
    const binExports = exportIndices(wasm);
    const agree = Object.keys(binExports).length > 0 && Object.entries(binExports).every(([name, i]) => names[i] === watExports[name]);
    return agree ? names : null;
  } catch {
    return null;
  }
}

/** Where a profile node's self time belongs. */
function area(frame, label) {
  if (frame.url.startsWith("wasm://")) return "warden.wasm (the engine)";
  if (/\/(packages\/core|bindings\/node)\/|@warden\//.test(frame.url)) return "host JavaScript (@warden/core and @warden/node)";
  if (frame.url.includes("/benchmarks/compare/")) return "benchmark harness";
  if (label === "(garbage collector)") return "garbage collector";
  return "other (V8, runtime, idle)";
}

/**
 * Runs one workload of one engine under --cpu-prof for `seconds` and
 * summarises the whole profile (loading and warm-up are a small part of it);
 * nsPerCall is the profiled loop's own time per call, profiler included.
 */
export function profile(engineId, workloadId, dir, seconds = 4) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const run = spawnSync(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${dir}`, `${here}/engine-process.mjs`, engineId, "--profile", workloadId, "--seconds", String(seconds)], {
    encoding: "utf8", env: process.env, timeout: 120_000,
  });
  if (run.status !== 0) throw new Error(`profiling ${engineId} ${workloadId} failed: ${run.stderr}`);
  const { calls, ms } = JSON.parse(run.stdout.trim().split("\n").pop());
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  const prof = JSON.parse(readFileSync(`${dir}/${file}`, "utf8"));
  const names = engineId.startsWith("warden") ? wardenFunctionNames() : null;
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfTime = new Map();
  const areas = new Map();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i];
    if (dt <= 0) return;
    const frame = nodes.get(id).callFrame;
    let label = frame.functionName || "(anonymous)";
    const wasmIndex = /^wasm-function\[(\d+)\]$/.exec(label);
    if (wasmIndex && names) label = `wasm ${names[Number(wasmIndex[1])]}`;
    else if (!frame.url.startsWith("wasm://") && frame.url) label = `${label} (${frame.url.replace(/^.*\/(packages|bindings|benchmarks|node_modules)\//, "$1/")}:${frame.lineNumber + 1})`;
    selfTime.set(label, (selfTime.get(label) ?? 0) + dt);
    const a = area(frame, label);
    areas.set(a, (areas.get(a) ?? 0) + dt);
    total += dt;
  });
  const share = (m) => [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, percent: +(100 * us / total).toFixed(1) }));
  return {
    engine: engineId, workload: workloadId, seconds, calls, nsPerCall: +((ms * 1e6) / calls).toFixed(1),
    wasmNames: Boolean(names), areas: share(areas), functions: share(selfTime).slice(0, 15),
  };
}
