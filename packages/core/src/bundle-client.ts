// A client connected to a bundle URL (bundle-format.md §Caching and refresh):
// it starts from its cache, then the network; polls with If-None-Match,
// jittered, backing off on errors; and writes the cache only with a bundle
// that loaded. The highest version ever loaded is kept in the cache under its
// own key, apart from the bundle, so deleting the cached bundle does not
// reopen a rollback.

import type { BundleTrust } from "./bundle-loader.js";
import { WardenError, type ErrorCode } from "./errors.js";

/** Where a runtime keeps what must survive a restart (a folder, IndexedDB, KV…). Values are text. */
export interface BundleCache {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  /**
   * Writes every entry or none (one IndexedDB transaction, one chrome.storage
   * `set`), where the store can: a page closed mid-write then keeps the last
   * bundle it cached. Without it the entries are `set` one by one, in order.
   */
  setAll?(entries: Record<string, string>): Promise<void>;
}

/**
 * A runtime's `cache` option as a BundleCache: `false` for none, a string
 * names one of the runtime's own stores (a folder, a database), and absent is
 * the runtime's default store.
 */
export function cacheOption(option: BundleCache | string | false | undefined, store: (name?: string) => BundleCache): BundleCache | undefined {
  return option === false ? undefined : typeof option === "string" ? store(option) : option ?? store();
}

export interface ConnectOptions extends BundleTrust {
  /** The bundle's URL (any static host or CDN). */
  url: string;
  /** Where the bundle and the highest version survive restarts; without one, nothing does. */
  cache?: BundleCache;
  /** The runtime's fetch (default `globalThis.fetch`). */
  fetch?: typeof globalThis.fetch;
  /** Milliseconds between polls (default 60,000, jittered by ±10 %); 0 polls never (use `refresh`). */
  pollInterval?: number;
  /** The longest wait between polls after repeated errors (default 15 minutes). */
  maxBackoff?: number;
  /** Milliseconds a fetch may take (default 10,000). */
  fetchTimeout?: number;
  /** Where warnings go (a cached bundle that does not load…); default `console.warn`. */
  warn?: (message: string) => void;
  /**
   * When given and the cache supplied a bundle, `connect` does not wait for
   * its first fetch but hands it here (a Worker's `ctx.waitUntil`): once a
   * bundle is in force, no decision waits on the network.
   */
  background?: (pending: Promise<void>) => void;
}

export type BundleSource = "cache" | "network" | "direct";

/** What a connected client knows of its bundles. */
export interface BundleStatus {
  /** Version of the bundle in force (null: none has loaded; every check denies). */
  version: number | null;
  /** Where the bundle in force came from. */
  source: BundleSource | null;
  loadedAt: Date | null;
  /** The highest version ever loaded: nothing older loads again. */
  highestVersion: number;
  lastFetch: { at: Date; outcome: "updated" | "not-modified" | "unchanged" | "failed" } | null;
  lastError: { code: ErrorCode; message: string; at: Date } | null;
}

export interface BundleUpdate {
  version: number;
  source: BundleSource;
}

/** What the client needs of the Warden it feeds. */
export interface BundleTarget {
  loadBundle(text: string, trust: BundleTrust, source: BundleSource): Promise<{ version: number; changed: boolean }>;
  readonly highestVersion: number;
  raiseFloor(version: number): void;
  /** The version in force, or null. */
  inForce(): number | null;
}

export const BUNDLE_KEY = (project: string) => `${project}.bundle.json`;
export const VERSION_KEY = (project: string) => `${project}.version`;

export class BundleClient {
  private etag: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private closed = false;
  private paused = false;
  private running: Promise<void> = Promise.resolve();
  lastFetch: BundleStatus["lastFetch"] = null;
  lastError: BundleStatus["lastError"] = null;

  constructor(
    private readonly target: BundleTarget,
    private readonly options: ConnectOptions,
    private readonly emitError: (error: WardenError, source: BundleSource) => void,
  ) {}

  private warn(message: string): void {
    (this.options.warn ?? ((m: string) => console.warn(m)))(`warden: ${message}`);
  }

  /** Loads the cache, then fetches once; then polls. */
  async start(): Promise<void> {
    const { cache, project } = this.options;
    if (cache) {
      const floor = await cache.get(VERSION_KEY(project)).catch(() => null);
      if (floor !== null) {
        const n = Number(floor.trim());
        if (Number.isSafeInteger(n) && n >= 0) this.target.raiseFloor(n);
        else this.warn(`the highest version recorded in the cache is unreadable (${JSON.stringify(floor.slice(0, 40))}): it is ignored`);
      }
      const text = await cache.get(BUNDLE_KEY(project)).catch(() => null);
      if (text !== null) {
        try {
          await this.target.loadBundle(text, this.options, "cache");
        } catch (e) {
          const err = e instanceof WardenError ? e : new WardenError("ERR_BUNDLE_FORMAT", String(e));
          this.warn(`the cached bundle is ignored: ${err.code}: ${err.message}`);
          this.record(err, "cache");
        }
      }
    }
    const first = this.refresh().then(() => this.schedule());
    if (this.options.background && this.target.inForce() !== null) this.options.background(first);
    else await first;
  }

  /** Fetches the bundle now (after any fetch already running). */
  refresh(): Promise<void> {
    this.running = this.running.then(() => this.fetchOnce());
    return this.running;
  }

  close(): void {
    this.closed = true;
    this.pause();
  }

  /** Stops polling until `resume` (a hidden page, a frozen tab). */
  pause(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.paused = true;
  }

  /** Polls again: at once if a poll fell due while paused, else when the next one is due. */
  resume(): void {
    if (this.closed || !this.paused) return;
    this.paused = false;
    const interval = this.options.pollInterval ?? 60_000;
    if (interval <= 0) return;
    const due = (this.lastFetch?.at.getTime() ?? 0) + interval <= Date.now();
    if (due) void this.refresh().then(() => this.schedule());
    else this.schedule();
  }

  private record(error: WardenError, source: BundleSource): void {
    this.lastError = { code: error.code, message: error.message, at: new Date() };
    this.emitError(error, source);
  }

  private async fetchOnce(): Promise<void> {
    const { url, fetchTimeout = 10_000, cache, project } = this.options;
    const fetchImpl = this.options.fetch ?? globalThis.fetch;
    const at = new Date();
    let text: string;
    let etag: string | null;
    try {
      const headers: Record<string, string> = {};
      if (this.etag) headers["If-None-Match"] = this.etag;
      const response = await fetchImpl(url, { headers, signal: AbortSignal.timeout(fetchTimeout) });
      if (response.status === 304) {
        this.lastFetch = { at, outcome: "not-modified" };
        this.failures = 0;
        return;
      }
      if (!response.ok) return this.failed(at, new WardenError("ERR_BUNDLE_FETCH", `fetching ${url} answered HTTP ${response.status}`));
      text = await response.text();
      etag = response.headers.get("ETag");
    } catch (e) {
      return this.failed(at, new WardenError("ERR_BUNDLE_FETCH", `fetching ${url} failed: ${(e as Error)?.message ?? String(e)}`));
    }
    let result: { version: number; changed: boolean };
    try {
      result = await this.target.loadBundle(text, this.options, "network");
    } catch (e) {
      // Refused: the bundle in force and the cache stay as they are.
      return this.failed(at, e instanceof WardenError ? e : new WardenError("ERR_BUNDLE_FORMAT", String(e)));
    }
    this.etag = etag;
    this.lastFetch = { at, outcome: result.changed ? "updated" : "unchanged" };
    this.failures = 0;
    if (cache && result.changed) {
      // The floor first: where the two writes are not one, a crash between them can only refuse an old cache,
      // never reopen a rollback.
      const entries = { [VERSION_KEY(project)]: String(this.target.highestVersion), [BUNDLE_KEY(project)]: text };
      try {
        if (cache.setAll) await cache.setAll(entries);
        else for (const [key, value] of Object.entries(entries)) await cache.set(key, value);
      } catch (e) {
        this.warn(`the bundle loaded but could not be cached: ${(e as Error)?.message ?? String(e)}`);
      }
    }
  }

  private failed(at: Date, error: WardenError): void {
    this.lastFetch = { at, outcome: "failed" };
    this.failures++;
    this.record(error, "network");
  }

  private schedule(): void {
    const interval = this.options.pollInterval ?? 60_000;
    if (this.closed || this.paused || interval <= 0 || this.timer) return;
    const maxBackoff = this.options.maxBackoff ?? 15 * 60_000;
    const base = this.failures === 0 ? interval : Math.min(maxBackoff, interval * 2 ** Math.min(this.failures, 20));
    const delay = base * (0.9 + 0.2 * Math.random());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh().then(() => this.schedule());
    }, delay);
    // A poll alone must not keep a process alive (Node); elsewhere there is no such method.
    (this.timer as { unref?: () => void }).unref?.();
  }
}
