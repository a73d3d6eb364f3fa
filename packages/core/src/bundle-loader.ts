// Loading a bundle (bundle-format.md §Loading), in the spec's order, each
// failure with its code: format, project, key, signature, version, payload,
// policies. Until the last step nothing changes: a failure leaves the bundle
// in force.

import { BundleError, fromBase64url, parseBundle, type BundleFile } from "./bundle-format.js";
import { decryptPayload, verifySignature } from "./bundle-crypto.js";

/** Whose bundles a client accepts. Signatures are always required; plain payloads only with `allowPlain`. */
export interface BundleTrust {
  /** The project this client serves. */
  project: string;
  /** `key_id` → Ed25519 public key (32 bytes, base64url). Several at once let keys rotate. */
  trustedKeys: Readonly<Record<string, string>>;
  /** The project's key, for encrypted payloads. */
  projectKey?: string;
  /** Whether plain (`enc: "none"`) bundles load, for development. */
  allowPlain?: boolean;
}

export interface OpenedBundle {
  bundle: BundleFile;
  /** The payload's JSON bytes: `{"policies": [...]}`, for the engine to load (step 7). */
  payload: Uint8Array;
}

/**
 * Steps 1 to 6: returns the verified, decrypted bundle, or "unchanged" when its
 * version is the one in force. `inForce` is the version loaded now (null:
 * none); `highest` the highest ever loaded, kept apart from any cache, below
 * which nothing loads again.
 */
export async function openBundle(text: string, trust: BundleTrust, inForce: number | null, highest: number): Promise<OpenedBundle | "unchanged"> {
  const bundle = parseBundle(text);
  if (bundle.project !== trust.project) {
    throw new BundleError("ERR_BUNDLE_PROJECT", `the bundle is for project \`${bundle.project}\`, this client serves \`${trust.project}\``);
  }
  if (!Object.hasOwn(trust.trustedKeys, bundle.key_id)) {
    throw new BundleError("ERR_BUNDLE_UNKNOWN_KEY", `the bundle is signed with key \`${bundle.key_id}\`, which this client does not trust`);
  }
  if (!(await verifySignature(bundle, trust.trustedKeys[bundle.key_id]))) {
    throw new BundleError("ERR_BUNDLE_SIGNATURE", `the bundle's signature does not verify with key \`${bundle.key_id}\``);
  }
  if (inForce !== null && bundle.version === inForce) return "unchanged";
  if (bundle.version < highest || (inForce !== null && bundle.version < inForce)) {
    throw new BundleError("ERR_BUNDLE_STALE", `the bundle has version ${bundle.version}, older than version ${Math.max(highest, inForce ?? 0)} already loaded: publish older policies under a higher version`);
  }
  let payload: Uint8Array | null;
  if (bundle.enc === "none") {
    if (!trust.allowPlain) throw new BundleError("ERR_BUNDLE_DECRYPT", "the bundle is not encrypted, and this client does not allow plain bundles");
    payload = fromBase64url(bundle.payload)!; // parseBundle checked it
  } else {
    if (trust.projectKey === undefined) throw new BundleError("ERR_BUNDLE_DECRYPT", "the bundle is encrypted, and this client has no project key");
    payload = await decryptPayload(bundle, trust.projectKey);
    if (payload === null) throw new BundleError("ERR_BUNDLE_DECRYPT", "the payload does not decrypt with this project key (wrong key, or the bundle was altered)");
  }
  return { bundle, payload };
}

