import { createReadStream } from "node:fs";
import { Warden, PolicyInvalidError, auditLog, type Agent, type AuditLog, type Decision, type LocatedPolicyError } from "@warden/node";
import { parse, jsonOption, UsageError } from "./usage.js";
import { formatDecision, formatExplanation } from "./decision-format.js";

/** `warden check`: one request, readable; or a file of requests, one JSON line each (batch mode). */
export async function check(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    policy: { type: "string", multiple: true },
    agent: { type: "string" },
    context: { type: "string" },
    time: { type: "string" },
    explain: { type: "boolean" },
    requests: { type: "string" },
    json: { type: "boolean" },
    audit: { type: "string" },
  });
  const policies = values.policy ?? [];
  if (policies.length === 0) throw new UsageError("check needs --policy FILE (one or more)");
  if (values.requests !== undefined) {
    if (positionals.length > 0 || values.agent || values.context || values.time || values.explain) {
      throw new UsageError("with --requests, the requests come from the file: leave out ACTION, --agent, --context, --time and --explain");
    }
    return withAudit(values.audit, (log) => batch(policies, values.requests!, values.json === true, log));
  }
  if (positionals.length < 1 || positionals.length > 2) throw new UsageError("check needs ACTION and, optionally, RESOURCE");
  return withAudit(values.audit, (log) => single(policies, positionals, values, log));
}

/** Runs `f` with the audit log at `path` (none without one), closed once `f` is done. */
async function withAudit(path: string | undefined, f: (log: AuditLog | undefined) => Promise<number>): Promise<number> {
  const log = path === undefined ? undefined : auditLog(path);
  try {
    return await f(log);
  } finally {
    await log?.close();
  }
}

/** Reports what the audit log could not take (the decisions stand). */
function reportAuditErrors(warden: Warden): void {
  warden.on("auditError", (e) => console.error(`warden: an audit record was not written: ${(e.error as Error)?.message ?? String(e.error)}`));
}

async function single(
  policies: string[], positionals: string[], values: { agent?: string; context?: string; time?: string; explain?: boolean; json?: boolean },
  log: AuditLog | undefined,
): Promise<number> {
  const [action, resource] = positionals;
  const context = jsonOption("context", values.context) as object | undefined;
  const agent = jsonOption("agent", values.agent) as Agent | null | undefined;
  let warden: Warden;
  try {
    warden = await Warden.fromFile(policies, { audit: log });
  } catch (e) {
    if (!(e instanceof PolicyInvalidError)) throw e;
    printLoadErrors(e.errors as LocatedPolicyError[]);
    return 2;
  }
  reportAuditErrors(warden);
  const options = { agent, time: values.time };
  let d: Decision;
  if (values.explain) {
    const explanation = warden.explain(action, resource, context, options);
    d = explanation.decision;
    if (values.json) console.log(JSON.stringify(explanation));
    else console.log(`${formatDecision(action, resource, d)}\n${formatExplanation(explanation)}`);
  } else {
    d = warden.check(action, resource, context, options);
    console.log(values.json ? JSON.stringify(batchLine(d)) : formatDecision(action, resource, d));
  }
  return d.allowed ? 0 : 1;
}

function printLoadErrors(errors: LocatedPolicyError[]): void {
  for (const e of errors) {
    const where = e.file ? `${e.file}${e.line ? `:${e.line}:${e.column}` : ""}` : `policy ${e.policy}`;
    console.error(`${where} ${e.pointer || "/"} ${e.message}`);
  }
}

/** The batch line of a decision: exactly these members, in this order. */
export function batchLine(d: Decision): Record<string, unknown> {
  const line: Record<string, unknown> = {
    allowed: d.allowed,
    effect: d.effect,
    policy: d.policy,
    rule: d.rule,
    reason: d.reasonGiven ? d.reason : null,
    indeterminate: d.indeterminate,
    rate_limit: d.rateLimit,
  };
  if (d.error) line.error = { code: d.error.code, message: d.error.message };
  return line;
}

/** A request line longer than this is answered as invalid without being read whole. */
const MAX_LINE = 64 << 20;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The batch line for a line that is not a request at all (it never reaches the engine). */
function invalidLine(message: string): Record<string, unknown> {
  return {
    allowed: false, effect: "deny", policy: null, rule: null, reason: null, indeterminate: [], rate_limit: null,
    error: { code: "ERR_REQUEST_INVALID", message },
  };
}

/** The answer to one line of a batch file. */
function answer(warden: Warden, line: Uint8Array | null): Record<string, unknown> {
  if (line === null) return invalidLine("the line is longer than 64 MiB");
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return invalidLine("the line is not UTF-8");
  }
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch (e) {
    return invalidLine(`the line is not JSON: ${(e as Error).message}`);
  }
  return batchLine(warden.checkRequest(request));
}

/**
 * Batch mode: every line of the file is a request, decided in order against
 * one engine; every line gets exactly one JSON line back, whatever it holds
 * (huge, deeply nested, not UTF-8, not JSON: an invalid request, which is
 * denied), and the lines after it keep their answers.
 */
async function batch(policies: string[], requests: string, json: boolean, log: AuditLog | undefined): Promise<number> {
  if (!json) throw new UsageError("batch mode (--requests) prints JSON lines: add --json");
  let warden: Warden;
  try {
    warden = await Warden.fromFile(policies, { audit: log });
  } catch (e) {
    if (!(e instanceof PolicyInvalidError)) throw e;
    const first = e.errors[0];
    process.stdout.write(`${JSON.stringify({ error: { code: "ERR_POLICY_INVALID", policy: first.policy, pointer: first.pointer, message: first.message } })}\n`);
    return 2;
  }
  reportAuditErrors(warden);
  const out = new LineWriter();
  await forEachLine(requests, (line) => out.write(JSON.stringify(answer(warden, line))), () => out.drained());
  await out.end();
  return 0;
}

/**
 * Calls `f` with each line's bytes (without `\n` or a trailing `\r`), or null
 * for a line over MAX_LINE; awaits `pause` after each chunk read.
 */
async function forEachLine(path: string, f: (line: Uint8Array | null) => void, pause: () => Promise<void>): Promise<void> {
  let parts: Uint8Array[] = [];
  let size = 0;
  let overflow = false;
  const take = (piece: Uint8Array): void => {
    if (overflow || piece.length === 0) return;
    if (size + piece.length > MAX_LINE) {
      overflow = true;
      parts = [];
      return;
    }
    parts.push(piece);
    size += piece.length;
  };
  const flush = (): void => {
    if (overflow) f(null);
    else {
      let line = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
      if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
      f(line);
    }
    parts = [];
    size = 0;
    overflow = false;
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      take(chunk.subarray(start, nl));
      flush();
      start = nl + 1;
    }
    take(chunk.subarray(start));
    await pause();
  }
  if (size > 0 || overflow) flush();
}

/** Buffered stdout, in order, that lets the reader wait while the pipe is full. */
class LineWriter {
  private chunk: string[] = [];
  private pending = 0;
  private full = false;

  write(line: string): void {
    this.chunk.push(line);
    this.pending += line.length;
    if (this.pending > 1 << 16) this.flush();
  }

  private flush(): void {
    if (this.chunk.length === 0) return;
    if (!process.stdout.write(`${this.chunk.join("\n")}\n`)) this.full = true;
    this.chunk = [];
    this.pending = 0;
  }

  /** Resolves once stdout can take more. */
  async drained(): Promise<void> {
    if (!this.full) return;
    this.full = false;
    await new Promise<void>((resolve) => process.stdout.once("drain", () => resolve()));
  }

  async end(): Promise<void> {
    this.flush();
    await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  }
}
