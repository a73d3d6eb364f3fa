// A BundleCache in IndexedDB: one object store of text values by key, so the
// bundle and the highest version seen survive reloads (written in one
// transaction: a page closed mid-write keeps the pair it had), and a page
// that loads offline enforces the last good bundle.
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
  const setAll = async (entries: Record<string, string>): Promise<void> => {
    const tx = (await open()).transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    for (const [key, value] of Object.entries(entries)) store.put(value, key);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  };
  return {
    async get(key) {
      const tx = (await open()).transaction(STORE, "readonly");
      const value = await request(tx.objectStore(STORE).get(key));
      return typeof value === "string" ? value : null;
    },
    set: (key, value) => setAll({ [key]: value }),
    setAll,
  };
}
