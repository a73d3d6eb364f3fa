// Verify + decrypt + load of a signed, encrypted 1,000-rule bundle through
// @warden/node, as a client receiving a new version does. Target: at most 10 ms.
// Run: pnpm --filter @warden/benchmarks bench (after decide.bench.mjs)
import { Warden, buildBundle } from "@warden/node";

const { subtle } = globalThis.crypto;
const pair = await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
const publicKey = Buffer.from(await subtle.exportKey("raw", pair.publicKey)).toString("base64url");
const rules = [];
for (let i = 0; i < 1000; i++) {
  rules.push(i % 10 === 0
    ? { effect: "allow", action: "tool.call", resource: `tool/lit${i}` }
    : { effect: i % 7 === 0 ? "deny" : "allow", action: "tool.call", resource: `tool/svc${i}/*`, conditions: i % 3 === 0 ? "context.amount <= 500" : undefined });
}
const policies = [{ name: "scale", rules: rules.map((r) => JSON.parse(JSON.stringify(r))) }];
const trust = { project: "proj_bench", projectKey: "pk_bench", trustedKeys: { k1: publicKey } };
const ROUNDS = 200;
const texts = [];
for (let v = 1; v <= ROUNDS + 20; v++) {
  texts.push(await buildBundle(policies, { project: "proj_bench", version: v, keyId: "k1", signingKey: pair.privateKey, projectKey: "pk_bench" }));
}
const warden = await Warden.create();
const times = [];
for (let i = 0; i < texts.length; i++) {
  const t0 = process.hrtime.bigint();
  await warden.loadBundle(texts[i], trust);
  if (i >= 20) times.push(Number(process.hrtime.bigint() - t0) / 1e6); // the first 20 warm up
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`\nbundle: verify + decrypt + load, 1,000 rules (${(texts[0].length / 1024).toFixed(0)} KiB file)`.padEnd(58) +
  ` median ${median.toFixed(2)} ms, p99 ${times[Math.floor(times.length * 0.99)].toFixed(2)} ms   target: at most 10 ms — ${median <= 10 ? "met" : "missed"}`);
