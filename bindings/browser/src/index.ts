import { Warden as CoreWarden, cacheOption, type ConnectOptions, type WardenOptions, type WasmSource } from "@warden/core";
import { indexedDbCache } from "./indexeddb-cache.js";

/** warden.wasm beside this module: found by bundlers, fetched by a page. */
export function wasmUrl(): URL {
  return new URL("./warden.wasm", import.meta.url);
}

function defaultWasm(): WasmSource {
  return fetch(wasmUrl());
}

export interface BrowserWardenOptions extends Partial<WardenOptions> {}

export interface BrowserConnectOptions extends BrowserWardenOptions, Omit<ConnectOptions, "cache"> {
  /** Where the bundle survives reloads: a BundleCache, an IndexedDB database name, or false (default IndexedDB "warden"). */
  cache?: ConnectOptions["cache"] | string | false;
}

/**
 * Warden in the browser: `@warden/core`'s client, with warden.wasm fetched
 * from beside this module (compiled while it streams) unless `wasm` is given.
 *
 * @example
 * import { Warden } from "@warden/browser";
 * const warden = await Warden.connect({ url: "/policies/proj_web.bundle.json", project: "proj_web",
 *   projectKey, trustedKeys: { k1: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" } });
 * if (!warden.check("form.submit", location.pathname).allowed) return;
 */
export class Warden extends CoreWarden {
  static override async create<W extends CoreWarden = Warden>(this: unknown, options: BrowserWardenOptions = {}): Promise<W> {
    return CoreWarden.create.call(this as typeof Warden, { ...options, wasm: options.wasm ?? defaultWasm() }) as Promise<W>;
  }

  /**
   * A client that enforces a project's signed bundles from a URL: the bundle
   * and the highest version seen live in IndexedDB, so a reload offline
   * enforces the last good bundle; polling pauses while the page is hidden.
   */
  static override async connect<W extends CoreWarden = Warden>(this: unknown, options: BrowserConnectOptions): Promise<W> {
    const warden = (await CoreWarden.connect.call(this as typeof Warden, {
      ...options, cache: cacheOption(options.cache, indexedDbCache), wasm: options.wasm ?? defaultWasm(),
    })) as W;
    if (typeof document !== "undefined") {
      const follow = () => (document.visibilityState === "hidden" ? warden.pause() : warden.resume());
      document.addEventListener("visibilitychange", follow);
      follow();
    }
    return warden;
  }
}

export { indexedDbCache } from "./indexeddb-cache.js";
export {
  PolicyInvalidError, PolicyViolationError, WardenError, BundleError, buildBundle, parseBundle, signingKeyFromSeed,
} from "@warden/core";
export type {
  Agent, BundleCache, BundleStatus, BundleTrust, BundleUpdate, CheckOptions, ConnectOptions, Decision, Effect, ErrorCode,
  Explanation, PolicyDocument, PolicyError, PolicyInput, PolicyMetadata, WardenEvents, WardenOptions, WasmSource,
} from "@warden/core";
