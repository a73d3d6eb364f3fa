// The page side: content scripts and extension pages ask the service worker
// (see ./background.ts) and get its decision back.
import type { Decision, Explanation } from "@warden/core";
import { chromeApi, type WardenRequest } from "./chrome.js";

function unavailable(e: unknown): Decision {
  const message = `the extension's service worker did not answer: ${String(e)}`;
  return {
    allowed: false, effect: "deny", policy: null, policyName: null, rule: null, ruleName: null, reason: message, reasonGiven: false,
    indeterminate: [], rateLimit: null, bundleVersion: null, log: true, logContext: null, alert: false, error: { code: "ERR_ENGINE", message },
  };
}

/**
 * Asks the service worker for a decision. Never throws: if the worker cannot
 * answer, the decision is a deny that says so.
 *
 * @example
 * const d = await askWarden({ action: "form.submit", resource: location.href });
 * if (!d.allowed) return; // blocked
 */
export async function askWarden(request: WardenRequest): Promise<Decision> {
  try {
    const d = (await chromeApi().runtime.sendMessage({ warden: "check", request })) as Decision | undefined;
    return d ?? unavailable("no answer");
  } catch (e) {
    return unavailable(e);
  }
}

/** Asks the service worker to explain a decision (without counting it against rate limits). */
export async function explainWithWarden(request: WardenRequest): Promise<Explanation> {
  return (await chromeApi().runtime.sendMessage({ warden: "explain", request })) as Explanation;
}

export type { WardenRequest, WardenMessage } from "./chrome.js";
export type { Decision, Explanation } from "@warden/core";
