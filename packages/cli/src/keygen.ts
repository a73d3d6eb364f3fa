import { generateKeyPairSync } from "node:crypto";
import { mkdir, writeFile, access } from "node:fs/promises";
import { join } from "node:path";
import { parse, UsageError } from "./usage.js";

const KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * `warden keygen --out DIR --key-id ID`: an Ed25519 key pair for signing
 * bundles: DIR/ID.key (PKCS#8 PEM, mode 0600) and DIR/ID.pub (the raw 32-byte
 * public key in base64url, as `trusted_keys` holds it).
 */
export async function keygen(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { out: { type: "string" }, "key-id": { type: "string" }, force: { type: "boolean" } });
  if (positionals.length > 0) throw new UsageError("keygen takes no positional arguments: use --out DIR --key-id ID");
  const dir = values.out;
  const id = values["key-id"];
  if (!dir || !id) throw new UsageError("keygen needs --out DIR and --key-id ID");
  if (!KEY_ID.test(id)) throw new UsageError("--key-id must be 1 to 128 of A-Z a-z 0-9 . _ - (it becomes the bundles' key_id)");
  const keyFile = join(dir, `${id}.key`);
  const pubFile = join(dir, `${id}.pub`);
  if (!values.force) {
    for (const f of [keyFile, pubFile]) {
      if (await access(f).then(() => true, () => false)) throw new UsageError(`${f} exists: pass --force to replace it (bundles signed with it stop verifying)`);
    }
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ format: "pem", type: "pkcs8" }) as string;
  const pub = publicKey.export({ format: "jwk" }).x as string;
  await mkdir(dir, { recursive: true });
  await writeFile(keyFile, pem, { mode: 0o600 });
  await writeFile(pubFile, `${pub}\n`);
  console.log(`wrote ${keyFile} (the signing key: keep it secret) and ${pubFile}`);
  console.log(`clients trust it as: ${id}=${pub}`);
  return 0;
}
