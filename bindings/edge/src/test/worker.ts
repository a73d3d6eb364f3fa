// The Worker the edge tests run in workerd: the conformance runner over
// vectors fetched from a local server, and decisions from a connected client.
import { wardenFor, kvCache, Warden, type KVNamespaceLike } from "@warden/edge";
import { runConformance } from "@warden/core/conformance";

interface Env {
  VECTORS: string;
  BUNDLE_URL: string;
  PROJECT: string;
  PROJECT_KEY: string;
  TRUSTED: string;
  POLL: string;
  WARDEN_KV: KVNamespaceLike;
}

interface Ctx {
  waitUntil(p: Promise<unknown>): void;
}

export default {
  async fetch(request: Request, env: Env, ctx: Ctx): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/conformance") {
      const text = async (path: string) => {
        const r = await fetch(`${env.VECTORS}/${path}`);
        if (!r.ok) throw new Error(`cannot fetch ${path}: HTTP ${r.status}`);
        return r.text();
      };
      const result = await runConformance({ list: async () => JSON.parse(await text("index.json")), read: text }, () => Warden.create());
      return Response.json(result);
    }
    if (url.pathname === "/check") {
      const warden = await wardenFor({
        url: env.BUNDLE_URL, project: env.PROJECT, projectKey: env.PROJECT_KEY, trustedKeys: JSON.parse(env.TRUSTED),
        cache: kvCache(env.WARDEN_KV), pollInterval: Number(env.POLL), fetchTimeout: 2000, warn: () => {},
      }, ctx);
      const d = warden.check(url.searchParams.get("action") ?? "", url.searchParams.get("resource") ?? undefined);
      return Response.json({ allowed: d.allowed, reason: d.reason, status: warden.status() });
    }
    if (url.pathname === "/bench") {
      // check() timed in batches: Workers advance the clock only across I/O, so each batch ends with one.
      const warden = await Warden.create({ policies: JSON.parse(await request.text()) });
      const mix = JSON.parse(url.searchParams.get("mix")!) as Array<[string, string, Record<string, unknown>]>;
      const batch = Number(url.searchParams.get("batch"));
      const times: number[] = [];
      for (let b = 0; b < Number(url.searchParams.get("batches")); b++) {
        await fetch(`${env.VECTORS}/index.json`).then((r) => r.arrayBuffer());
        const t0 = Date.now();
        for (let i = 0; i < batch; i++) {
          const m = mix[i & 7];
          warden.check(m[0], m[1], m[2]);
        }
        await fetch(`${env.VECTORS}/index.json`).then((r) => r.arrayBuffer());
        times.push(((Date.now() - t0) * 1e6) / batch);
      }
      return Response.json(times);
    }
    return new Response("not found", { status: 404 });
  },
};
