// Figures from the Python and Go bindings, when they have benchmarks: the Go
// packages under bindings/go with `func Benchmark` (go test -bench), and
// bindings/python/bench.py. Their folders are only read and run here, never
// written (Python is told not to write bytecode); what they print goes into
// the report as it is. Where one does not exist yet, the slot says so.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const TIMEOUT_MS = 240_000;

function tail(text, lines = 25) {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** Folders of bindings/go holding a `func Benchmark` in a _test.go file. */
function goBenchDirs(root) {
  const out = [];
  const walk = (dir) => {
    const entries = readdirSync(dir, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && e.name.endsWith("_test.go") && /^func Benchmark/m.test(readFileSync(join(dir, e.name), "utf8")))) out.push(dir);
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith(".") && e.name !== "testdata" && e.name !== "vendor") walk(join(dir, e.name));
  };
  walk(root);
  return out;
}

export function goBindingBench(repo) {
  const root = join(repo, "bindings/go");
  if (!existsSync(root)) return { status: "absent", note: "bindings/go does not exist yet" };
  const dirs = goBenchDirs(root);
  if (dirs.length === 0) return { status: "absent", note: "bindings/go has no `func Benchmark` yet" };
  const runs = dirs.map((dir) => {
    const args = ["test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1", "."];
    const t0 = performance.now();
    const r = spawnSync("go", args, { cwd: dir, encoding: "utf8", timeout: TIMEOUT_MS, env: { ...process.env, GOFLAGS: `${process.env.GOFLAGS ?? ""} -mod=readonly`.trim() } });
    const seconds = (performance.now() - t0) / 1000;
    const output = `${r.stdout ?? ""}${r.stderr ?? ""}`;
    const results = [...(r.stdout ?? "").matchAll(/^(Benchmark\S+)\s+(\d+)\s+([\d.]+) ns\/op(?:\s+([\d.]+) B\/op)?(?:\s+([\d.]+) allocs\/op)?/gm)]
      .map((m) => ({ name: m[1], iterations: Number(m[2]), nsPerOp: Number(m[3]), bytesPerOp: m[4] === undefined ? null : Number(m[4]), allocsPerOp: m[5] === undefined ? null : Number(m[5]) }));
    return {
      dir: relative(repo, dir), command: `go ${args.join(" ")}`, seconds: +seconds.toFixed(1),
      ok: r.status === 0, error: r.status === 0 ? null : (r.error ? String(r.error) : tail(output)), results,
    };
  });
  return { status: runs.every((r) => r.ok) ? "ran" : "failed", runs };
}

export function pythonBindingBench(repo) {
  const dir = join(repo, "bindings/python");
  const script = join(dir, "bench.py");
  if (!existsSync(script)) return { status: "absent", note: "bindings/python has no bench.py yet" };
  const venv = join(dir, ".venv/bin/python");
  const python = existsSync(venv) ? venv : "python3";
  const t0 = performance.now();
  const r = spawnSync(python, ["bench.py"], {
    cwd: dir, encoding: "utf8", timeout: TIMEOUT_MS,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", PYTHONPATH: [join(dir, "src"), process.env.PYTHONPATH].filter(Boolean).join(":") },
  });
  const seconds = (performance.now() - t0) / 1000;
  return {
    status: r.status === 0 ? "ran" : "failed",
    command: `${python === venv ? relative(dir, venv) : python} bench.py (in bindings/python)`,
    seconds: +seconds.toFixed(1),
    output: (r.stdout ?? "").trim(),
    error: r.status === 0 ? null : (r.error ? String(r.error) : tail(`${r.stdout ?? ""}${r.stderr ?? ""}`)),
  };
}
