import type { BundleCache } from "@warden/core";
import { chromeApi, type StorageAreaLike } from "./chrome.js";

/** A BundleCache in chrome.storage (default `chrome.storage.local`, which survives restarts), under `prefix`. */
export function chromeStorageCache(area?: StorageAreaLike, prefix = "warden:"): BundleCache {
  const store = (): StorageAreaLike => area ?? chromeApi().storage.local;
  return {
    async get(key) {
      const value = (await store().get(prefix + key))[prefix + key];
      return typeof value === "string" ? value : null;
    },
    async set(key, value) {
      await store().set({ [prefix + key]: value });
    },
    async setAll(entries) {
      // One `set` of every entry: a worker stopped mid-write keeps the pair it had.
      await store().set(Object.fromEntries(Object.entries(entries).map(([key, value]) => [prefix + key, value])));
    },
  };
}
