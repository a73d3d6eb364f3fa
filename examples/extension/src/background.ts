// The service worker: Warden decides what the in-page agent may do. Policies
// come from the extension's policies.json, or from a signed bundle when
// config.json names one (see README.md).
import { serveWarden } from "@warden/extension/background";
import { runConformance } from "@warden/core/conformance";
import { Warden } from "@warden/core";

const RECENT = "example:recent";

async function settings() {
  const config = await fetch(chrome.runtime.getURL("config.json")).then((r) => (r.ok ? r.json() : {}), () => ({}));
  const policies = config.bundle ? undefined : await (await fetch(chrome.runtime.getURL("policies.json"))).json();
  return {
    policies,
    bundle: config.bundle,
    // Keep the last twenty decisions for the popup.
    onDecision: (request: { action: string; resource?: string }, d: { effect: string; reason: string }) => {
      void chrome.storage.session.get(RECENT).then((s) => {
        const recent = [{ action: request.action, resource: request.resource ?? "", effect: d.effect, reason: d.reason }, ...((s[RECENT] as unknown[]) ?? [])];
        return chrome.storage.session.set({ [RECENT]: recent.slice(0, 20) });
      });
    },
  };
}

serveWarden(settings);

// The shared conformance runner, reachable from the worker's console and from tests.
(globalThis as unknown as Record<string, unknown>).wardenConformance = { runConformance, Warden };

declare const chrome: {
  runtime: { getURL(path: string): string };
  storage: { session: { get(k: string): Promise<Record<string, unknown>>; set(v: Record<string, unknown>): Promise<void> } };
};
