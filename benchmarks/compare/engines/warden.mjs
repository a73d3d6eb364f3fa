// Warden through @warden/node, as an application uses it: check(action, resource, context, {agent}).
import { readFileSync } from "node:fs";
import { packageVersion } from "../versions.mjs";

export default {
  id: "warden",
  label: "Warden",
  packageName: "@warden/node",
  wasm: true,
  call: "`warden.check(action, resource, context, { agent })`",
  expressed: "the workloads' own policies, loaded as JSON text",

  async start() {
    const { Warden } = await import("@warden/node");
    return { Warden };
  },

  /** In a fresh process: the import, then reading, compiling and instantiating warden.wasm (Warden.create). */
  async coldStart() {
    const t0 = performance.now();
    const { Warden } = await import("@warden/node");
    const t1 = performance.now();
    const first = await Warden.create();
    const t2 = performance.now();
    return { api: { Warden, first }, importMs: t1 - t0, instantiateMs: t2 - t1 };
  },

  version() {
    return packageVersion("@warden/node");
  },

  source: (workload) => JSON.stringify(workload.policies),

  create: (api) => api.Warden.create(),

  load(api, warden, source) {
    warden.load(source);
    return warden;
  },

  prepare(api, warden, r) {
    return [r.action, r.resource, r.context ?? undefined, r.agent ? { agent: r.agent } : undefined];
  },

  decide: (warden, [action, resource, context, options]) => warden.check(action, resource, context, options),

  outcome(d) {
    if (d.error) throw new Error(`warden: ${d.error.code}: ${d.error.message}`);
    return d.effect;
  },

  wasmBytes(api) {
    return readFileSync(new URL(import.meta.resolve("@warden/node/warden.wasm"))).length;
  },
};
