// The targets, judged from the figures, and REPORT.md.
import { formatBytes, formatMs, formatNs, ratio } from "./format.mjs";

const LABEL = { warden: "Warden", "warden-uncached": "Warden, no kept decisions", baseline: "JS baseline", cedar: "Cedar", casbin: "Casbin", casl: "CASL", opa: "OPA (wasm)" };

/**
 * The issue's targets: Warden ahead of every peer library on every workload;
 * ahead of the JS baseline from 100 rules up and within 1.5× of it below;
 * its 10,000-rule median within 2× of its 10-rule median. `subject` is the
 * Warden being judged: "warden", or "warden-uncached" (no kept decisions).
 */
export function evaluateTargets({ decisions, list, peers, subject = "warden" }) {
  if (!decisions[subject]) return [];
  const med = (engine, id) => decisions[engine === "warden" ? subject : engine]?.[id]?.p50;
  const targets = [];
  for (const peer of peers) {
    const behind = list.filter((x) => !(med("warden", x.id) < med(peer, x.id)));
    targets.push({
      id: `ahead-of-${peer}`,
      name: `ahead of ${LABEL[peer]} on every workload`,
      met: behind.length === 0,
      workloads: behind.map((x) => x.id),
      detail: behind.length === 0
        ? `Warden's median is lower on all ${list.length} (by ${ratio(Math.min(...list.map((x) => med(peer, x.id) / med("warden", x.id))))} at the least)`
        : `behind on ${behind.map((x) => `${x.id} (Warden ${formatNs(med("warden", x.id))}, ${LABEL[peer]} ${formatNs(med(peer, x.id))})`).join(", ")}`,
    });
  }
  if (decisions.baseline) {
    const big = list.filter((x) => x.rules >= 100);
    const small = list.filter((x) => !(x.rules >= 100));
    const behind = big.filter((x) => !(med("warden", x.id) < med("baseline", x.id)));
    targets.push({
      id: "ahead-of-baseline-from-100",
      name: "ahead of the JS baseline from 100 rules up",
      met: behind.length === 0,
      workloads: behind.map((x) => x.id),
      detail: big.map((x) => `${x.id}: Warden ${formatNs(med("warden", x.id))}, baseline ${formatNs(med("baseline", x.id))}`).join("; "),
    });
    const over = small.filter((x) => !(med("warden", x.id) <= 1.5 * med("baseline", x.id)));
    targets.push({
      id: "within-1.5x-of-baseline-below-100",
      name: "within 1.5× of the JS baseline below 100 rules",
      met: over.length === 0,
      workloads: over.map((x) => x.id),
      detail: small.map((x) => `${x.id}: ${ratio(med("warden", x.id) / med("baseline", x.id))} of the baseline (${formatNs(med("warden", x.id))} against ${formatNs(med("baseline", x.id))})`).join("; "),
    });
  }
  const sized = list.filter((x) => x.rules);
  const first = sized[0];
  const last = sized[sized.length - 1];
  const flat = med("warden", last.id) / med("warden", first.id);
  const worst = Math.max(...sized.map((x) => med("warden", x.id) / med("warden", first.id)));
  targets.push({
    id: "flat",
    name: `flat from ${first.rules} to ${last.rules.toLocaleString("en-US")} rules (within 2× of its own ${first.rules}-rule median)`,
    met: worst <= 2,
    workloads: worst <= 2 ? [] : sized.filter((x) => med("warden", x.id) / med("warden", first.id) > 2).map((x) => x.id),
    detail: `${last.rules.toLocaleString("en-US")} rules / ${first.rules} rules: ${ratio(flat)} (${formatNs(med("warden", last.id))} against ${formatNs(med("warden", first.id))}); at no size above ${ratio(worst)} of the ${first.rules}-rule median`,
  });
  return targets;
}

/** Per peer library: the workloads where Warden's median load time is below the peer's, and those where it is not. */
function loadComparison(r) {
  const peers = ["cedar", "casbin", "casl", "opa"].filter((p) => r.loads[p]);
  return peers.map((peer) => {
    const both = r.workloads.filter((w) => r.loads.warden?.[w.id] && r.loads[peer][w.id]);
    const slower = both.filter((w) => !(r.loads.warden[w.id].medianMs < r.loads[peer][w.id].medianMs));
    const faster = both.length - slower.length;
    return [
      LABEL[peer],
      `${faster} of ${both.length}`,
      slower.length === 0 ? "—" : slower.map((w) => `${w.id} (${ratio(r.loads.warden[w.id].medianMs / r.loads[peer][w.id].medianMs)})`).join(", "),
    ];
  });
}

/** A Markdown table; `numeric` right-aligns every column but the first. */
const table = (head, rows, numeric = true) => [
  `| ${head.join(" | ")} |`,
  `|${head.map((h, i) => (i === 0 || !numeric ? "---" : "---:")).join("|")}|`,
  ...rows.map((r) => `| ${r.join(" | ")} |`),
].join("\n");

function profileSection(p) {
  const host = p.areas.find((a) => a.name.startsWith("host"))?.percent ?? 0;
  const wasm = p.areas.find((a) => a.name.startsWith("warden.wasm"))?.percent ?? 0;
  const topHost = p.functions.filter((f) => !f.name.startsWith("wasm ") && /packages\/core|bindings\/node/.test(f.name)).slice(0, 5);
  const topWasm = p.functions.filter((f) => f.name.startsWith("wasm ")).slice(0, 5);
  const s = p.split;
  const split = !s ? [] : s.unavailable ? [`The engine/host split was not measured: ${s.unavailable}.`, ""] : [
    `Timed apart (warden-split.mjs, medians, no profiler): \`check\` ${formatNs(s.checkNs)}; warden.wasm's own \`decide\` on the request records the host wrote for the same requests (${[...new Set(s.recordBytes)].join(", ")} bytes each, strings as interned ids) ${formatNs(s.engineNs)} (${formatNs(s.wasmDecideWithCopyNs)} less ${formatNs(s.copyNs)} for copying each record back in); ` +
      `so the engine is ${formatNs(s.engineNs)} of the decision and the host ${formatNs(s.hostNs)} (${(100 * s.hostNs / s.checkNs).toFixed(0)} %): turning the arguments into a request record, crossing into the wasm and reading the decision back.`,
    "",
  ];
  return [
    `### ${p.workload}: ${formatNs(p.nsPerCall)} per decision under the profiler (${p.calls.toLocaleString("en-US")} decisions in ${p.seconds} s)`,
    "",
    ...split,
    `The host's JavaScript took ${host} % of the profile and warden.wasm ${wasm} %. ` +
      `Heaviest host functions (self time): ${topHost.map((f) => `\`${f.name.replace(/ \(.*\)$/, "")}\` ${f.percent} %`).join(", ") || "none"}; ` +
      `heaviest engine functions: ${topWasm.map((f) => `\`${f.name.slice(5)}\` ${f.percent} %`).join(", ") || "none"}` +
      `${p.wasmNames ? "" : " (warden.wasm's functions by index: build/warden.wat did not match the binary)"}.`,
    "",
    table(["where", "share of samples"], p.areas.map((a) => [a.name, `${a.percent} %`])),
    "",
    table(["function (self time)", "share"], p.functions.map((f) => [`\`${f.name}\``, `${f.percent} %`])),
  ].join("\n");
}

function bindingsSection(b) {
  const out = ["## Python and Go bindings", ""];
  const go = b.go;
  out.push("### Go (`go test -bench` under bindings/go)", "");
  if (go.status === "absent") out.push(`Slot: not measured — ${go.note}. The next \`pnpm bench\` fills this when a \`func Benchmark\` exists under bindings/go.`);
  else {
    for (const run of go.runs) {
      out.push(`\`${run.command}\` in \`${run.dir}\` (${run.seconds} s)${run.ok ? "" : ": **failed**"}`, "");
      if (run.results.length) {
        out.push(table(["benchmark", "ns/op", "B/op", "allocs/op"], run.results.map((r) => [`\`${r.name}\``, formatNs(r.nsPerOp), r.bytesPerOp ?? "—", r.allocsPerOp ?? "—"])), "");
      }
      if (!run.ok) out.push("```", run.error, "```", "");
    }
  }
  const py = b.python;
  out.push("", "### Python (bindings/python/bench.py)", "");
  if (py.status === "absent") out.push(`Slot: not measured — ${py.note}. The next \`pnpm bench\` fills this when it exists.`);
  else {
    out.push(`\`${py.command}\` (${py.seconds} s)${py.status === "ran" ? ", as it printed:" : ": **failed**:"}`, "", "```", (py.status === "ran" ? py.output : py.error) || "(no output)", "```");
  }
  return out.join("\n");
}

export function renderReport(r) {
  const engines = r.engines.filter((e) => r.decisions[e.id]);
  const m = r.machine;
  const out = [];
  out.push(
    "# Warden beside the engines users would pick instead",
    "",
    `Generated by \`pnpm bench\` (benchmarks/compare/run.mjs) on ${r.generated.slice(0, 16).replace("T", " ")} UTC, commit ${r.commit ?? "?"}${r.dirty ? " with uncommitted changes" : ""}, in ${r.seconds} s. ` +
      "Figures are from one run; results.json beside this file holds every number, with the p99s, sample counts and cold-start samples.",
    "",
  );
  if (m.shared) {
    out.push(`> **Shared machine.** Other work used ${(100 * m.otherWorkCpuShare).toFixed(0)} % of this machine's CPU while the suite ran (${m.cores} cores; load average ${m.loadavgAtStart[0]} at the start, ${m.loadavgAtEnd[0]} at the end). Medians hold up better than p99s under such load, and every figure may be higher than on a quiet machine.`, "");
  } else {
    out.push(`Other work used ${(100 * (m.otherWorkCpuShare ?? 0)).toFixed(0)} % of the machine's CPU during the run (load average ${m.loadavgAtStart[0]} at the start, ${m.loadavgAtEnd[0]} at the end).`, "");
  }
  out.push("## Machine", "", table(["CPU", "cores", "memory", "OS", "Node (V8)"], [[`${m.cpu}${m.mhz ? ` (${Math.round(m.mhz)} MHz)` : ""}`, m.cores, `${m.memoryGiB} GiB`, m.os, `${m.node} (${m.v8})`]], false), "");

  out.push("## Engines", "", table(["engine", "package", "version", "a decision is", "wasm"], r.engines.map((e) => [
    e.label, e.packageName ? `\`${e.packageName}\`` : "—", e.skipped ? `not run: ${e.skipped}` : e.version, e.call, e.wasmBytes ? formatBytes(e.wasmBytes) : "—",
  ]), false), "");
  if (r.opa.version) out.push(`OPA's policy module was compiled from Rego at the start of the run by OPA ${r.opa.version}'s Go compiler (compare/opa, ${r.opa.go}): ${r.opa.regoToWasmMs} ms, build time rather than load time.`, "");
  out.push("**Decision caches.** Warden keeps decisions by (action, resource) only where its engine declares, at load, that the policies in force decide by those alone (`action_resource_only` in the load metadata: no `agent_match`, trust level, condition or rate limit); at most 4,096 of them, forgotten at every load, and every request is still checked for validity. That holds for the support-bot and rule-count workloads, never for the refund one. *Warden, no kept decisions* is the same client created with `keepDecisions: false`, every check through warden.wasm: the engine's own cost. Not a decision cache, but named here as one might take it for one: for an action and resource the host sends as interned ids, warden.wasm keeps the rules its index finds in precedence order (a *plan*, engine/ABI.md; at most 2,048 pairs of at most 64 rules, forgotten at every load), and judges every one of them on every request — applicability, trust, conditions and rate limits — so it saves the index walk, never a decision (the refund workload goes through one). No peer runs with a cache (Casbin's `CachedEnforcer`, for one, is not used).", "");

  out.push("## Decision latency", "", "Median time per decision (p99 in parentheses); the fastest of each row in bold.", "");
  out.push(table(["workload", ...engines.map((e) => e.label)], r.workloads.map((w) => {
    const best = Math.min(...engines.map((e) => r.decisions[e.id][w.id].p50));
    return [w.label, ...engines.map((e) => {
      const d = r.decisions[e.id][w.id];
      const cell = `${formatNs(d.p50)} (${formatNs(d.p99)})`;
      return d.p50 === best ? `**${cell}**` : cell;
    })];
  })), "");
  out.push("![Median time per decision, by workload](latency-by-workload.svg)", "", "![Median time per decision against rule count](latency-vs-rules.svg)", "");

  out.push("## Targets", "", "Checked and reported, never asserted: a missed target does not fail the run.", "");
  out.push(table(["target", "result", "figures"], r.targets.map((t) => [t.name, t.met ? "met" : "**missed**", t.detail]), false), "");
  if (r.uncachedTargets?.length) {
    out.push("The same targets with no kept decisions (every check through warden.wasm):", "");
    out.push(table(["target", "result", "figures"], r.uncachedTargets.map((t) => [t.name, t.met ? "met" : "**missed**", t.detail]), false), "");
  }
  const splits = r.profiles.filter((p) => p.split && !p.split.unavailable);
  if (splits.length) {
    out.push(`Where Warden misses, its decision splits so: ${splits.map((p) => `on ${p.workload}, warden.wasm's own \`decide\` takes ${formatNs(p.split.engineNs)} of \`check\`'s ${formatNs(p.split.checkNs)}, the host's JavaScript the other ${formatNs(p.split.hostNs)} (${(100 * p.split.hostNs / p.split.checkNs).toFixed(0)} %)`).join("; ")}. [Where Warden's time goes](#where-wardens-time-goes) has the profiles.`, "");
  }

  const sized = r.workloads.filter((w) => w.id.startsWith("rules-"));
  out.push("## Scaling", "", `Each engine's median at each rule count over its own median at ${sized[0].rules} rules.`, "");
  out.push(table(["engine", ...sized.map((w) => `${w.rules.toLocaleString("en-US")} rules`)], engines.map((e) => [
    e.label, ...sized.map((w) => ratio(r.decisions[e.id][w.id].p50 / r.decisions[e.id][sized[0].id].p50)),
  ])), "");

  out.push("## Policy load time", "", "Median of repeated loads of the engine's own serialized policy into one instance, as a client takes a new version (p99 in parentheses). OPA loads the scaled rule sets as data; its support-bot and refund policies are the compiled module itself. CASL compiles a rule's conditions the first time that rule is checked, so its figures leave that out.", "");
  out.push(table(["workload", ...engines.map((e) => e.label)], r.workloads.map((w) => [w.label, ...engines.map((e) => {
    const l = r.loads[e.id]?.[w.id];
    return l ? `${formatMs(l.medianMs)} (${formatMs(l.p99Ms)})` : "—";
  })])), "");
  out.push("What a load does differs: Warden's parses, validates every policy (reporting every error), compiles conditions and patterns, builds its index and returns the metadata; CASL's stores the rules; OPA's parses the data for a policy compiled at build time. Warden's load time against each peer's, where both were measured (not among the targets above, which judge decisions):", "");
  out.push(table(["peer", "Warden's load is faster on", "slower on (Warden / peer)"], loadComparison(r), false), "");

  out.push("## Cold start and memory", "", `Each sample is a fresh Node process (${engines[0] && r.cold[engines[0].id] ? r.cold[engines[0].id].samples : "?"} per engine, the median shown): the engine's import, then for the WebAssembly engines the instantiate a Worker pays at cold start (read the .wasm, compile, instantiate, initialise; no policy yet), then one load. Cedar's Node.js build compiles its wasm while it is imported, so its two steps are timed through its web build (the same .wasm and API).`, "");
  // Engines that share another's cold start (Warden without kept decisions) have no row here.
  const coldEngines = engines.filter((e) => r.cold[e.id]);
  out.push(table(["engine", "import", "instantiate", ...sized.map((w) => `first load, ${w.rules.toLocaleString("en-US")} rules`)], coldEngines.map((e) => {
    const c = r.cold[e.id];
    return [e.label, c.importMs === null ? "— (part of the harness)" : formatMs(c.importMs), c.instantiateMs === null ? "— (plain JS)" : formatMs(c.instantiateMs), ...sized.map((w) => formatMs(c.memory[w.id].firstLoadMs))];
  })), "");
  out.push("Memory, from `process.memoryUsage()` after a full GC in the engine's own process: what the instance holds before any policy, and what loading each rule set adds (RSS / V8 heap + external, where WebAssembly memories and ArrayBuffers count).", "");
  out.push(table(["engine", "import + instance", ...sized.map((w) => `${w.rules.toLocaleString("en-US")} rules`)], coldEngines.map((e) => {
    const c = r.cold[e.id];
    return [e.label, `${formatBytes(c.instance.rss)} / ${formatBytes(c.instance.heapAndExternal)}`, ...sized.map((w) => `${formatBytes(c.memory[w.id].rss)} / ${formatBytes(c.memory[w.id].heapAndExternal)}`)];
  })), "");

  if (r.profiles.length) {
    out.push("## Where Warden's time goes", "", "Where Warden misses a target, the suite profiles that workload (`node --cpu-prof`, engine-process.mjs --profile: the same decisions in a loop for a few seconds) and sums self time by function (V8 counts a function it inlined into another as part of that one); warden.wasm's functions are named from the engine's build/warden.wat, checked against the binary's exports. Loading and warm-up are a small part of each profile.", "");
    for (const p of r.profiles) out.push(profileSection(p), "");
  }

  out.push(bindingsSection(r.bindings), "");

  out.push("## How each engine was given the workloads", "", ...r.engines.map((e) => `- **${e.label}**: ${e.expressed}.`), "");
  out.push(
    "## Method",
    "",
    `- The workloads are benchmarks/workloads.mjs, the ones decide.bench.mjs times: the support-bot policy (5 rules) over a rotating mix of 8 requests; the refund policy (allow ≤ 50; allow ≤ 500 at trust \`elevated\`; escalate > 500) over 4 amounts from a basic and an elevated agent; 10 to 10,000 rules (90 % \`tool/svc{i}/*\`, 10 % literal \`tool/lit{i}\`, every seventh pattern rule a deny) with 64 requests hitting rules spread across the set, and a miss.`,
    `- One Node process per engine, one after another (${r.engines.map((e) => e.label).join(", ")}). In it, every request of every workload is decided first and compared with the decision it must get (allow, deny or escalate, known from how the request was made); any difference ends the run with an error. The same check runs again after timing.`,
    "- Where an engine has no escalate, escalate is a distinct deny (Cedar: a `forbid` policy whose id names it; Casbin: a deny line named `escalate`, read through `enforceExSync`; CASL: an inverted rule with reason `escalate`, read through `relevantRuleFor`), and the check compares the outcome class.",
    "- Requests are built once, in each engine's own argument form, outside the timed call (as decide.bench.mjs builds its contexts once); a timed call is one decision of the rotating mix.",
    "- Warm-up: up to 300,000 calls (what decide.bench.mjs gives V8 to tier up) or 1.5 s, whichever ends first. Then mitata's `measure`: at least 12 samples and 642 ms. A call under 65 µs is sampled in batches of 4,096 consecutive calls, a sample being the batch's mean, so for those the p99 is the 99th percentile of batch means; slower calls are timed one by one.",
    "- Loads are timed after the decisions, so their garbage does not fall into the decisions' samples.",
    "- Cold starts and memory are taken in fresh processes, two rounds over the four rule counts per engine.",
  );
  return `${out.join("\n")}\n`;
}
