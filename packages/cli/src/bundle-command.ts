// `warden bundle build | inspect | serve`.
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { readFile, writeFile, stat } from "node:fs/promises";
import { basename, join, resolve, sep } from "node:path";
import {
  Warden, BundleError, PolicyInvalidError, buildBundle, parseBundle, readPolicyFiles, formatError, type LocatedPolicyError,
} from "@warden/node";
import { parse, UsageError } from "./usage.js";

export async function bundle(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "build") return build(rest);
  if (sub === "inspect") return inspect(rest);
  if (sub === "serve") return serve(rest);
  throw new UsageError(sub === undefined ? "bundle needs build, inspect or serve" : `unknown bundle command \`${sub}\`: use build, inspect or serve`);
}

/** The project key: --project-key, else the WARDEN_PROJECT_KEY environment variable (kept out of `ps`). */
function projectKey(given: string | undefined): string | undefined {
  return given ?? process.env.WARDEN_PROJECT_KEY;
}

async function signingKey(path: string): Promise<CryptoKey> {
  const pem = await readFile(path, "utf8").catch((e) => {
    throw new UsageError(`cannot read the key ${path}: ${(e as Error).message}`);
  });
  const body = /-----BEGIN PRIVATE KEY-----([\s\S]*?)-----END PRIVATE KEY-----/.exec(pem)?.[1];
  if (!body) throw new UsageError(`${path} is not a PKCS#8 PEM private key (make one with \`warden keygen\`)`);
  try {
    return await crypto.subtle.importKey("pkcs8", Buffer.from(body.replace(/\s+/g, ""), "base64"), { name: "Ed25519" }, false, ["sign"]);
  } catch {
    throw new UsageError(`${path} is not an Ed25519 private key (make one with \`warden keygen\`)`);
  }
}

async function build(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    policy: { type: "string", multiple: true }, key: { type: "string" }, project: { type: "string" },
    "project-key": { type: "string" }, plain: { type: "boolean" }, version: { type: "string" }, out: { type: "string" },
  });
  if (positionals.length > 0) throw new UsageError("bundle build takes its files as --policy FILE");
  const policies = values.policy ?? [];
  if (policies.length === 0 || !values.key || !values.project) throw new UsageError("bundle build needs --policy FILE..., --key DIR/ID.key and --project ID");
  const key = projectKey(values["project-key"]);
  if (values.plain && key !== undefined && values["project-key"] !== undefined) throw new UsageError("choose --project-key or --plain, not both");
  if (!values.plain && key === undefined) throw new UsageError("bundle build needs --project-key KEY (or WARDEN_PROJECT_KEY), or --plain for an unencrypted development bundle");
  const keyId = basename(values.key).replace(/\.key$/, "");
  const out = values.out ?? `${values.project}.bundle.json`;

  // The policies are validated first, with the same errors as `warden validate`.
  let documents: unknown[];
  try {
    const source = await readPolicyFiles(policies);
    const warden = await Warden.create();
    try {
      warden.load(source.policies);
    } catch (e) {
      if (!(e instanceof PolicyInvalidError)) throw e;
      for (const err of e.errors.map(source.locate)) console.log(formatError(err));
      return 1;
    }
    documents = source.policies;
  } catch (e) {
    if (!(e instanceof PolicyInvalidError)) throw e;
    for (const err of e.errors as LocatedPolicyError[]) console.log(formatError(err));
    return 1;
  }

  let version: number;
  if (values.version !== undefined) {
    version = Number(values.version);
    if (!Number.isSafeInteger(version) || version < 1) throw new UsageError("--version must be an integer from 1 to 2^53-1");
  } else {
    const existing = await readFile(out, "utf8").catch(() => null);
    if (existing === null) version = 1;
    else {
      try {
        version = parseBundle(existing).version + 1;
      } catch {
        throw new UsageError(`${out} exists but is not a bundle: pass --version N, or another --out`);
      }
    }
  }
  const text = await buildBundle(documents, {
    project: values.project, version, keyId, signingKey: await signingKey(values.key), projectKey: values.plain ? undefined : key,
  });
  try {
    parseBundle(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  await writeFile(out, text);
  console.log(`wrote ${out}: version ${version} of ${values.project}, ${documents.length} ${documents.length === 1 ? "policy" : "policies"}, signed with ${keyId}, ${values.plain ? "plain (development only)" : "encrypted"}`);
  return 0;
}

async function inspect(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" }, trust: { type: "string", multiple: true }, "project-key": { type: "string" },
    "allow-plain": { type: "boolean" }, after: { type: "string" }, json: { type: "boolean" },
  });
  if (positionals.length !== 1) throw new UsageError("bundle inspect needs one bundle FILE");
  if (!values.project) throw new UsageError("bundle inspect needs --project ID (the project the bundle must be for)");
  const trustedKeys: Record<string, string> = {};
  for (const t of values.trust ?? []) {
    const eq = t.indexOf("=");
    if (eq < 1) throw new UsageError(`--trust takes ID=PUBLIC_KEY, not ${JSON.stringify(t)}`);
    trustedKeys[t.slice(0, eq)] = t.slice(eq + 1);
  }
  const trust = { project: values.project, trustedKeys, projectKey: projectKey(values["project-key"]), allowPlain: values["allow-plain"] === true };
  const warden = await Warden.create();
  if (values.after) {
    try {
      await warden.loadBundle(await readFile(values.after, "utf8"), trust);
    } catch (e) {
      throw new UsageError(`the --after bundle does not load: ${e instanceof BundleError || e instanceof PolicyInvalidError ? `${e.code}: ` : ""}${(e as Error).message}`);
    }
  }
  const text = await readFile(positionals[0], "utf8").catch((e) => {
    throw new UsageError(`cannot read ${positionals[0]}: ${(e as Error).message}`);
  });
  try {
    const loaded = await warden.loadBundle(text, trust);
    const b = parseBundle(text);
    const names = (warden.metadata?.policies ?? []).map((p, i) => p.name ?? `(policy ${i})`);
    if (values.json) console.log(JSON.stringify({ ok: true, version: loaded.version, policies: names.length }));
    else {
      console.log(`ok: version ${b.version} of ${b.project}`);
      console.log(`  key id:     ${b.key_id}`);
      console.log(`  created at: ${b.created_at}`);
      console.log(`  payload:    ${b.enc === "none" ? "plain" : "encrypted (A256GCM)"}`);
      console.log(`  policies:   ${names.join(", ") || "(none)"}`);
    }
    return 0;
  } catch (e) {
    if (!(e instanceof BundleError || e instanceof PolicyInvalidError)) throw e;
    if (values.json) console.log(JSON.stringify({ ok: false, error: e.code }));
    else console.log(`${e.code}: ${e.message}`);
    return 1;
  }
}

/** A static server for development: GET and HEAD of files under DIR, with ETag and If-None-Match → 304. */
async function serve(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { port: { type: "string" }, host: { type: "string" } });
  if (positionals.length !== 1) throw new UsageError("bundle serve needs one folder");
  const root = resolve(positionals[0]);
  if (!(await stat(root).then((s) => s.isDirectory(), () => false))) throw new UsageError(`${positionals[0]} is not a folder`);
  const port = values.port === undefined ? 8787 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError("--port must be 0 to 65535");
  const host = values.host ?? "127.0.0.1";
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = resolve(join(root, path));
    const log = (status: number) => console.log(`${req.method} ${path} ${status}`);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD" }).end();
      return log(405);
    }
    if (!file.startsWith(root + sep)) {
      res.writeHead(404).end();
      return log(404);
    }
    const body = await readFile(file).catch(() => null);
    if (body === null) {
      res.writeHead(404).end();
      return log(404);
    }
    const etag = `"${createHash("sha256").update(body).digest("base64url")}"`;
    const headers = { ETag: etag, "Cache-Control": "no-cache", "Content-Type": file.endsWith(".json") ? "application/json" : "application/octet-stream" };
    if (req.headers["if-none-match"] === etag) {
      res.writeHead(304, headers).end();
      return log(304);
    }
    res.writeHead(200, { ...headers, "Content-Length": body.length });
    res.end(req.method === "HEAD" ? undefined : body);
    log(200);
  });
  await new Promise<void>((done, fail) => {
    server.once("error", fail);
    server.listen(port, host, done);
  });
  const address = server.address() as { port: number };
  console.log(`serving ${root} at http://${host}:${address.port}/ (ETag and If-None-Match; Ctrl-C stops)`);
  await new Promise<void>((done) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => server.close(() => done()));
  });
  return 0;
}
