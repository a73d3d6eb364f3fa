// The parts of the `chrome` extension API Warden uses (a subset, so the
// package needs no @types/chrome).

export interface StorageAreaLike {
  get(keys: string | string[]): Promise<Record<string, unknown>>;
  set(items: Record<string, unknown>): Promise<void>;
}

export interface ChromeLike {
  runtime: {
    onMessage: { addListener(listener: (message: unknown, sender: unknown, sendResponse: (response: unknown) => void) => boolean | void): void };
    sendMessage(message: unknown): Promise<unknown>;
    getURL(path: string): string;
  };
  storage: { local: StorageAreaLike; session: StorageAreaLike };
  alarms: {
    create(name: string, info: { periodInMinutes?: number; delayInMinutes?: number }): unknown;
    onAlarm: { addListener(listener: (alarm: { name: string }) => void): void };
  };
}

export function chromeApi(): ChromeLike {
  const c = (globalThis as unknown as { chrome?: ChromeLike }).chrome;
  if (!c?.runtime) throw new Error("@warden/extension runs inside a browser extension (the `chrome` API is missing)");
  return c;
}

/** The message a content script or extension page sends the service worker. */
export type WardenMessage =
  | { warden: "check"; request: WardenRequest }
  | { warden: "explain"; request: WardenRequest }
  | { warden: "status" }
  /** Fetches the bundle now (after any poll already running, its caching included); answers the status after. */
  | { warden: "refresh" };

export interface WardenRequest {
  action: string;
  resource?: string;
  context?: Record<string, unknown>;
  agent?: { id?: string; trust_level?: string; tags?: string[] } | null;
  time?: string;
}
