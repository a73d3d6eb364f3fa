// The bundle file (bundle-format.md §The file): strict parsing of its
// members, the signed header, and base64url without padding.

import { WardenError, type ErrorCode } from "./errors.js";

export const BUNDLE_FORMAT = "warden-bundle-1";

/** A bundle file's members, checked (bundle-format.md §The file). */
export interface BundleFile {
  format: typeof BUNDLE_FORMAT;
  project: string;
  version: number;
  created_at: string;
  key_id: string;
  enc: "A256GCM" | "none";
  nonce: string;
  payload: string;
  sig: string;
}

/** A bundle refused at one of the loading steps; `code` is the spec's. */
export class BundleError extends WardenError {
  constructor(code: ErrorCode, message: string, detail?: unknown) {
    super(code, message, detail);
    this.name = "BundleError";
  }
}

const ID = /^[A-Za-z0-9._-]{1,128}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const CREATED_AT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;
const MEMBERS = ["format", "project", "version", "created_at", "key_id", "enc", "nonce", "payload", "sig"];

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** base64url text without padding → bytes; null when it holds any other character or cannot be a whole number of bytes. */
export function fromBase64url(text: string): Uint8Array | null {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    value = (value << 6) | DECODE[text.charCodeAt(i)];
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  // The unused low bits of the last character must be zero: one text per byte string.
  if ((value & ((1 << bits) - 1)) !== 0) return null;
  return out;
}

export function toBase64url(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63];
  }
  return out;
}

function formatError(message: string): BundleError {
  return new BundleError("ERR_BUNDLE_FORMAT", message);
}

function validDate(y: number, m: number, d: number, h: number, mi: number, s: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d, h, mi, s));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d && h < 24 && mi < 60 && s < 60;
}

/** Step 1 of loading: the JSON, every member as the format says, and no others. Throws ERR_BUNDLE_FORMAT. */
export function parseBundle(text: string): BundleFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw formatError(`the bundle is not JSON: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw formatError("a bundle is a JSON object");
  const b = doc as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!MEMBERS.includes(key)) throw formatError(`unknown bundle member \`${key}\``);
  }
  for (const key of MEMBERS) {
    if (!(key in b)) throw formatError(`the bundle has no \`${key}\``);
  }
  if (b.format !== BUNDLE_FORMAT) throw formatError(`unknown bundle format ${JSON.stringify(b.format)}: this runtime reads \`${BUNDLE_FORMAT}\``);
  if (typeof b.project !== "string" || !ID.test(b.project)) throw formatError("`project` must be 1 to 128 of A-Z a-z 0-9 . _ -");
  if (typeof b.version !== "number" || !Number.isSafeInteger(b.version) || b.version < 1) throw formatError("`version` must be an integer from 1 to 2^53-1");
  const date = typeof b.created_at === "string" ? CREATED_AT.exec(b.created_at) : null;
  if (!date || !validDate(+date[1], +date[2], +date[3], +date[4], +date[5], +date[6])) {
    throw formatError("`created_at` must be an RFC 3339 UTC time, YYYY-MM-DDTHH:MM:SSZ");
  }
  if (typeof b.key_id !== "string" || !ID.test(b.key_id)) throw formatError("`key_id` must be 1 to 128 of A-Z a-z 0-9 . _ -");
  if (b.enc !== "A256GCM" && b.enc !== "none") throw formatError("`enc` must be `A256GCM` or `none`");
  if (typeof b.nonce !== "string") throw formatError("`nonce` must be a string");
  if (b.enc === "none" ? b.nonce !== "" : fromBase64url(b.nonce)?.length !== 12) {
    throw formatError(b.enc === "none" ? "`nonce` must be empty when `enc` is `none`" : "`nonce` must be base64url of 12 bytes");
  }
  if (typeof b.payload !== "string" || fromBase64url(b.payload) === null) throw formatError("`payload` must be base64url without padding");
  if (typeof b.sig !== "string" || fromBase64url(b.sig)?.length !== 64) throw formatError("`sig` must be base64url of a 64-byte signature");
  return b as unknown as BundleFile;
}

/** The signed header (bundle-format.md §Header, signature, encryption). */
export function bundleHeader(b: Pick<BundleFile, "project" | "version" | "created_at" | "key_id" | "enc" | "nonce">): string {
  return `${BUNDLE_FORMAT}\n${b.project}\n${b.version}\n${b.created_at}\n${b.key_id}\n${b.enc}\n${b.nonce}\n`;
}
