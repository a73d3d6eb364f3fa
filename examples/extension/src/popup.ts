// The popup: the agent's recent requests and Warden's answers.
import type { BundleStatus } from "@warden/core";

declare const chrome: {
  runtime: { sendMessage(m: unknown): Promise<unknown> };
  storage: { session: { get(k: string): Promise<Record<string, unknown>> } };
};

const list = document.getElementById("decisions")!;
const recent = ((await chrome.storage.session.get("example:recent"))["example:recent"] ?? []) as Array<{ action: string; resource: string; effect: string; reason: string }>;
for (const r of recent) {
  const li = document.createElement("li");
  li.className = r.effect;
  li.textContent = `${r.effect.toUpperCase()} ${r.action} ${r.resource} — ${r.reason}`;
  list.append(li);
}
const status = (await chrome.runtime.sendMessage({ warden: "status" })) as BundleStatus;
document.getElementById("status")!.textContent = status.version === null ? "policies: the extension's own" : `policies: bundle version ${status.version} (${status.source})`;
