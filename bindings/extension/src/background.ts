// The service-worker side: Warden in an MV3 extension's service worker, which
// Chrome stops and starts at will. Listeners are registered at once (they
// must be, at the worker's top level); the engine is made on the first
// decision, from what chrome.storage kept: the bundle and the highest version
// in storage.local, the rate-limit counts in storage.session. Polling is a
// chrome.alarms alarm, because timers die with the worker.
import { Warden, type AuditSink, type ConnectOptions, type Decision, type PolicyInput, type WasmSource } from "@warden/core";
import { chromeApi, type WardenMessage, type WardenRequest } from "./chrome.js";
import { chromeStorageCache } from "./storage-cache.js";

const ALARM = "warden-refresh";
const COUNTS = "warden:rate-limits";

export interface ServeOptions {
  /** Fixed policies; or give `bundle` to enforce a project's signed bundles. */
  policies?: PolicyInput;
  /** A project's bundles, refreshed every `pollMinutes` (default 1; packed extensions get at least 0.5). */
  bundle?: Omit<ConnectOptions, "cache" | "pollInterval" | "background"> & { pollMinutes?: number };
  /** warden.wasm (default: the extension's own warden.wasm, fetched from chrome.runtime.getURL). */
  wasm?: WasmSource;
  /** Called with each decision made for a message (to show it in a popup, say). */
  onDecision?: (request: WardenRequest, decision: Decision, sender: unknown) => void;
  /** Where audit records go (docs/audit.md): one per decision its policies record. */
  audit?: AuditSink;
}

export interface WardenService {
  /** The worker's Warden, made on first use. */
  warden(): Promise<Warden>;
}

/**
 * Serves decisions to the extension's content scripts and pages. Call it at
 * the top level of the service worker; `config` may be a function that reads
 * the options (from a file in the extension, say) when first needed.
 *
 * The extension's manifest needs `"permissions": ["storage", "alarms"]` and,
 * to compile wasm, `"content_security_policy": {"extension_pages": "script-src
 * 'self' 'wasm-unsafe-eval'; object-src 'self'"}`.
 */
export function serveWarden(config: ServeOptions | (() => Promise<ServeOptions>)): WardenService {
  const chrome = chromeApi();
  let made: Promise<Warden> | null = null;
  let counts = false;
  const settings = typeof config === "function" ? config() : Promise.resolve(config);

  const make = async (): Promise<Warden> => {
    const options = await settings;
    const wasm = options.wasm ?? fetch(chrome.runtime.getURL("warden.wasm"));
    const warden = options.bundle
      ? await Warden.connect({
        ...options.bundle, wasm, audit: options.audit, cache: chromeStorageCache(chrome.storage.local), pollInterval: 0,
        // With a cached bundle in force, the first fetch must not hold up the first decision.
        background: (pending) => void pending,
      })
      : await Warden.create({ wasm, policies: options.policies, audit: options.audit });
    // Counts from before the worker was stopped (spec §7: carried through the engine's state export).
    const saved = (await chrome.storage.session.get(COUNTS))[COUNTS];
    if (typeof saved === "string") {
      try {
        warden.importState(saved);
      } catch {
        // Counts from policies that no longer load: start afresh.
      }
    }
    const track = () => {
      counts = (warden.metadata?.policies ?? []).some((p) => p.rate_limits.length > 0);
    };
    track();
    warden.on("update", track);
    return warden;
  };
  const warden = (): Promise<Warden> => {
    made ??= make().catch((e) => {
      made = null;
      throw e;
    });
    return made;
  };

  chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
    const m = message as WardenMessage;
    if (!m || typeof m !== "object" || !("warden" in m)) return;
    void (async () => {
      try {
        const w = await warden();
        if (m.warden === "status") return sendResponse(w.status());
        if (m.warden === "refresh") return sendResponse(await w.refresh());
        const r = m.request;
        if (m.warden === "explain") return sendResponse(w.explain(r.action, r.resource, r.context, { agent: r.agent, time: r.time }));
        const d = w.checkRequest(r);
        // Keep the counts where a restarted worker finds them, before answering.
        if (counts && d.allowed) await chrome.storage.session.set({ [COUNTS]: w.exportState() });
        (await settings).onDecision?.(r, d, sender);
        sendResponse(d);
      } catch (e) {
        sendResponse({ allowed: false, effect: "deny", reason: `warden is unavailable: ${String(e)}`, error: { code: "ERR_ENGINE", message: String(e) } });
      }
    })();
    return true; // the answer comes asynchronously
  });

  chrome.alarms.onAlarm.addListener((alarm) => {
    if (alarm.name === ALARM) void warden().then((w) => w.refresh());
  });
  void settings.then((options) => {
    if (options.bundle) chrome.alarms.create(ALARM, { periodInMinutes: options.bundle.pollMinutes ?? 1 });
  });
  return { warden };
}

export { chromeStorageCache } from "./storage-cache.js";
export type { WardenMessage, WardenRequest } from "./chrome.js";
