// Where a Worker keeps the bundle and the highest version seen: a KV
// namespace (shared by every isolate and location, eventually consistent) or
// the Cache API (per location, and evictable — the version floor can then be
// lost, so prefer KV where rollback matters).
import type { BundleCache } from "@warden/core";

/** What Warden needs of a KV namespace binding. */
export interface KVNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
}

/** A BundleCache in a KV namespace, under `prefix`. */
export function kvCache(namespace: KVNamespaceLike, prefix = "warden:"): BundleCache {
  return {
    get: (key) => namespace.get(prefix + key),
    set: (key, value) => namespace.put(prefix + key, value),
  };
}

/** A BundleCache in the Cache API (default `caches.default`), keyed by URLs under `base`. */
export function cacheApiCache(cache?: Cache, base = "https://warden.invalid/cache/"): BundleCache {
  const store = (): Cache => cache ?? (globalThis as unknown as { caches: { default: Cache } }).caches.default;
  return {
    async get(key) {
      const hit = await store().match(base + encodeURIComponent(key));
      return hit ? hit.text() : null;
    },
    async set(key, value) {
      await store().put(base + encodeURIComponent(key), new Response(value, { headers: { "Cache-Control": "max-age=31536000" } }));
    },
  };
}
