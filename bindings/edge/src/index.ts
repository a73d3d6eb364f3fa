import wasm from "./warden.wasm";
import { Warden as CoreWarden, type ConnectOptions, type WardenOptions } from "@warden/core";

/** What Warden needs of a Worker's ExecutionContext. */
export interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
}

export interface EdgeWardenOptions extends Partial<WardenOptions> {}

export interface EdgeConnectOptions extends EdgeWardenOptions, ConnectOptions {
  /** The request's context: the first fetch goes to its waitUntil when a cached bundle is in force already. */
  ctx?: ExecutionContextLike;
}

/**
 * Warden in a Cloudflare Worker: warden.wasm is imported as a module (workerd
 * cannot compile wasm from bytes) and instantiated once per isolate. Workers
 * run no timers between requests, so a connected client does not poll: each
 * request calls `refreshIfStale(ctx)`, and a bundle older than the poll
 * interval is refetched through `ctx.waitUntil` — no decision waits on the
 * network once a bundle is in force. Rate-limit counts live in the isolate:
 * each isolate (and location) counts on its own.
 *
 * @example
 * import { wardenFor, kvCache } from "@warden/edge";
 * export default {
 *   async fetch(request, env, ctx) {
 *     const warden = await wardenFor({ url: env.BUNDLE_URL, project: "proj_gw", projectKey: env.WARDEN_PROJECT_KEY,
 *       trustedKeys: { k1: env.WARDEN_KEY_K1 }, cache: kvCache(env.WARDEN) }, ctx);
 *     const d = warden.check("llm.generate", "model/gpt-4o");
 *     return d.allowed ? fetch(request) : Response.json({ error: d.reason }, { status: 403 });
 *   },
 * };
 */
export class Warden extends CoreWarden {
  /** Milliseconds after a fetch before `refreshIfStale` fetches again. */
  refreshEvery = 60_000;
  private refreshing: Promise<unknown> | null = null;

  static override async create<W extends CoreWarden = Warden>(this: unknown, options: EdgeWardenOptions = {}): Promise<W> {
    return CoreWarden.create.call(this as typeof Warden, { ...options, wasm: options.wasm ?? wasm }) as Promise<W>;
  }

  static override async connect<W extends CoreWarden = Warden>(this: unknown, options: EdgeConnectOptions): Promise<W> {
    const warden = (await CoreWarden.connect.call(this as typeof Warden, {
      ...options,
      wasm: options.wasm ?? wasm,
      pollInterval: 0,
      background: options.ctx ? (p) => options.ctx!.waitUntil(p) : undefined,
    })) as W;
    (warden as unknown as Warden).refreshEvery = options.pollInterval ?? 60_000;
    return warden;
  }

  /** Refetches the bundle through `ctx.waitUntil` when the last fetch is older than `refreshEvery`. */
  refreshIfStale(ctx: ExecutionContextLike): void {
    if (this.refreshing) return;
    const last = this.status().lastFetch?.at.getTime() ?? 0;
    if (Date.now() - last < this.refreshEvery) return;
    this.refreshing = this.refresh().finally(() => {
      this.refreshing = null;
    });
    ctx.waitUntil(this.refreshing);
  }
}

const isolates = new Map<string, Promise<Warden>>();

/**
 * The isolate's connected Warden for this bundle URL and project, made on the
 * first request (from the cache when it holds a bundle, else the network) and
 * reused after; a stale bundle is refreshed through `ctx.waitUntil`.
 */
export async function wardenFor(options: EdgeConnectOptions, ctx: ExecutionContextLike): Promise<Warden> {
  const key = `${options.project}\n${options.url}`;
  let pending = isolates.get(key);
  if (!pending) {
    pending = Warden.connect<Warden>({ ...options, ctx });
    isolates.set(key, pending);
    pending.catch(() => isolates.delete(key));
    return pending;
  }
  const warden = await pending;
  warden.refreshIfStale(ctx);
  return warden;
}

export { kvCache, cacheApiCache } from "./caches.js";
export type { KVNamespaceLike } from "./caches.js";
export {
  PolicyInvalidError, PolicyViolationError, WardenError, BundleError,
} from "@warden/core";
export type {
  Agent, BundleCache, BundleStatus, BundleTrust, CheckOptions, ConnectOptions, Decision, Effect, ErrorCode, Explanation,
  PolicyDocument, PolicyMetadata, WardenEvents, WardenOptions,
} from "@warden/core";
