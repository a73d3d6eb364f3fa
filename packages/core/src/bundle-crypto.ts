// Bundle cryptography with WebCrypto only (bundle-format.md §Header,
// signature, encryption): Ed25519 signatures over header + payload text,
// AES-256-GCM under an HKDF-SHA256 key from the project key, the header as
// additional data. Also the other direction, for tools and tests that build
// bundles.

import { BUNDLE_FORMAT, bundleHeader, fromBase64url, toBase64url, type BundleFile } from "./bundle-format.js";
import { WardenError } from "./errors.js";

const utf8 = new TextEncoder();
const subtle = (): SubtleCrypto => {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new WardenError("ERR_BUNDLE_SIGNATURE", "this runtime has no WebCrypto (crypto.subtle)");
  return s;
};

// Imported keys are reused: verifying is per bundle, importing need not be.
const publicKeys = new Map<string, Promise<CryptoKey>>();
const payloadKeys = new Map<string, Promise<CryptoKey>>();

/** A trusted public key (32 raw bytes, base64url) as WebCrypto holds it. */
function publicKey(base64url: string): Promise<CryptoKey> {
  let key = publicKeys.get(base64url);
  if (!key) {
    const raw = fromBase64url(base64url);
    if (!raw || raw.length !== 32) return Promise.reject(new WardenError("ERR_BUNDLE_UNKNOWN_KEY", "a trusted key must be 32 bytes of Ed25519 public key in base64url"));
    key = subtle().importKey("raw", raw as BufferSource, { name: "Ed25519" }, false, ["verify"]);
    publicKeys.set(base64url, key);
  }
  return key;
}

/** Whether `sig` is the signature of header + payload text by the key. */
export async function verifySignature(bundle: BundleFile, trustedKey: string): Promise<boolean> {
  const signed = utf8.encode(bundleHeader(bundle) + bundle.payload);
  return subtle().verify("Ed25519", await publicKey(trustedKey), fromBase64url(bundle.sig) as BufferSource, signed as BufferSource);
}

/** The payload key: HKDF-SHA256 of the project key, salt `warden-bundle-1:{project}`, info `payload-key`. */
export function payloadKey(projectKey: string, project: string): Promise<CryptoKey> {
  const id = `${project}\n${projectKey}`;
  let key = payloadKeys.get(id);
  if (!key) {
    key = subtle()
      .importKey("raw", utf8.encode(projectKey) as BufferSource, "HKDF", false, ["deriveKey"])
      .then((material) => subtle().deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: utf8.encode(`${BUNDLE_FORMAT}:${project}`) as BufferSource, info: utf8.encode("payload-key") as BufferSource },
        material,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      ));
    payloadKeys.set(id, key);
  }
  return key;
}

/** The payload's plaintext, or null when it does not decrypt (wrong key, changed ciphertext, header or nonce). */
export async function decryptPayload(bundle: BundleFile, projectKey: string): Promise<Uint8Array | null> {
  try {
    const plain = await subtle().decrypt(
      { name: "AES-GCM", iv: fromBase64url(bundle.nonce) as BufferSource, additionalData: utf8.encode(bundleHeader(bundle)) as BufferSource, tagLength: 128 },
      await payloadKey(projectKey, bundle.project),
      fromBase64url(bundle.payload) as BufferSource,
    );
    return new Uint8Array(plain);
  } catch {
    return null;
  }
}

/** What `buildBundle` needs besides the policies. */
export interface BundleSpec {
  project: string;
  version: number;
  keyId: string;
  /** The Ed25519 private key that signs. */
  signingKey: CryptoKey;
  /** The project key to encrypt with; leave it out for a plain bundle (`enc: "none"`, development only). */
  projectKey?: string;
  /** Defaults to now, to the second. */
  createdAt?: Date;
}

/** Builds a bundle file (its JSON text) for `{"policies": [...]}`: encrypt, then sign. */
export async function buildBundle(policies: readonly unknown[], spec: BundleSpec): Promise<string> {
  const created = (spec.createdAt ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
  const plain = utf8.encode(JSON.stringify({ policies }));
  const enc = spec.projectKey === undefined ? "none" : "A256GCM";
  const nonce = enc === "none" ? "" : toBase64url(globalThis.crypto.getRandomValues(new Uint8Array(12)));
  const header = { project: spec.project, version: spec.version, created_at: created, key_id: spec.keyId, enc, nonce } as const;
  let payload: Uint8Array = plain;
  if (spec.projectKey !== undefined) {
    payload = new Uint8Array(await subtle().encrypt(
      { name: "AES-GCM", iv: fromBase64url(nonce) as BufferSource, additionalData: utf8.encode(bundleHeader(header)) as BufferSource, tagLength: 128 },
      await payloadKey(spec.projectKey, spec.project),
      plain as BufferSource,
    ));
  }
  const payloadText = toBase64url(payload);
  const sig = new Uint8Array(await subtle().sign("Ed25519", spec.signingKey, utf8.encode(bundleHeader(header) + payloadText) as BufferSource));
  const file: BundleFile = { format: BUNDLE_FORMAT, ...header, payload: payloadText, sig: toBase64url(sig) };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** An Ed25519 signing key from a 32-byte seed and its public key (base64url both), as the test vectors give them. */
export function signingKeyFromSeed(seed: string, publicKeyBase64url: string): Promise<CryptoKey> {
  return subtle().importKey("jwk", { kty: "OKP", crv: "Ed25519", d: seed, x: publicKeyBase64url }, { name: "Ed25519" }, false, ["sign"]);
}
