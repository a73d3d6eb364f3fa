// A BundleCache in IndexedDB: one object store of text values by key, so the
// bundle and the highest version seen survive reloads, and a page that loads
// offline enforces the last good bundle.
import type { BundleCache } from "@warden/core";

const STORE = "cache";

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** A cache in the IndexedDB database `name` (default "warden"). */
export function indexedDbCache(name = "warden"): BundleCache {
  let db: Promise<IDBDatabase> | null = null;
  const open = (): Promise<IDBDatabase> => {
    db ??= new Promise((resolve, reject) => {
      const r = indexedDB.open(name, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(STORE);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    return db;
  };
  return {
    async get(key) {
      const tx = (await open()).transaction(STORE, "readonly");
      const value = await request(tx.objectStore(STORE).get(key));
      return typeof value === "string" ? value : null;
    },
    async set(key, value) {
      const tx = (await open()).transaction(STORE, "readwrite");
      tx.objectStore(STORE).put(value, key);
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    },
  };
}
