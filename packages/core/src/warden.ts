import { EngineInstance, InvalidRequest, Site, compileWasm, instantOfMillis, jsonView, type Instant, type PolicyMetadata, type WasmSource } from "./engine-host.js";
import { PolicyInvalidError, WardenError } from "./errors.js";
import { BundleError } from "./bundle-format.js";
import { openBundle, type BundleTrust } from "./bundle-loader.js";
import { BundleClient, type BundleSource, type BundleStatus, type BundleTarget, type BundleUpdate, type ConnectOptions } from "./bundle-client.js";
import { PolicyViolationError, type Decision, type Effect, type RateLimitRef } from "./decision.js";
import { MISSING, checkContext, ContextPaths } from "./context.js";
import { checkZone, zoneOffset } from "./time-zones.js";
import { requestDigest } from "./approval.js";
import { auditRecord, isRecorded, readOnce, redactedPaths, type AuditRecord, type AuditSink } from "./audit.js";

/** A policy document (policy-language.md §1), as parsed from JSON or YAML. */
export type PolicyDocument = { readonly [field: string]: unknown };

/** Policies to load: documents in bundle order, or their JSON array as text or UTF-8 bytes. */
export type PolicyInput = readonly PolicyDocument[] | string | Uint8Array;

/** The agent making a request (policy-language.md §4). */
export interface Agent {
  id?: string;
  trust_level?: string;
  tags?: readonly string[];
}

export interface CheckOptions {
  /** The agent making the request; absent or null: no agent. */
  agent?: Agent | null;
  /** The time the decision reads (an RFC 3339 string, a Date or epoch milliseconds); the clock's when absent. */
  time?: string | Date | number;
}

/** What an approval handler is asked (policy-language.md §8). */
export interface ApprovalRequest {
  action: string;
  resource: string;
  context: object;
  agent: Agent | null;
  /** The escalated decision. */
  decision: Decision;
  /** SHA-256, hex, of the canonical JSON of {action, resource, context, agent}. */
  digest: string;
}

/** Asks a person (a ticket, a chat message, a web page) and answers; no answer in time is a rejection. */
export type ApprovalHandler = (request: ApprovalRequest) => Promise<{ approved: boolean; approver?: string }>;

export interface WardenOptions {
  /** warden.wasm: a compiled module, its bytes, a Response or a promise of one. */
  wasm: WasmSource;
  /** Policies to load at once. */
  policies?: PolicyInput;
  /** The clock, in epoch milliseconds (default `Date.now`). */
  clock?: () => number;
  /**
   * Keep decisions by (action, resource) when the engine says the policies in
   * force decide by those alone (no agent_match, trust levels, conditions or
   * rate limits): at most 4,096, forgotten at every load. Default true.
   */
  keepDecisions?: boolean;
  /** Who approves escalated requests in `authorize` (§8), and how long an answer may take (default 5 minutes). */
  approvals?: { handler: ApprovalHandler; timeout?: number };
  /**
   * Where audit records go (policy-language.md §1): one per decision of
   * `check`, `checkRequest`, `enforce` and `authorize` that its rule's `log`
   * and its policy's `audit` settings record. Without it (and without an
   * `alert` listener) checks pay nothing for auditing.
   */
  audit?: AuditSink;
}

/** How a rule's action or resource patterns met the request. */
export type PatternMatch =
  | { matched: true; pattern: string; specificity: [number, number] }
  | { matched: false; patterns: string[] };

/** A rule considered by `explain` (engine/ABI.md §The explanation). */
export interface ExplainedRule {
  policy: number;
  rule: number;
  name: string | null;
  effect: Effect;
  /** When it matched, the most specific pattern that did; when not, every pattern of the rule. */
  action: PatternMatch;
  resource?: PatternMatch;
  trust?: { required: string; agent: string | null; matched: boolean } | null;
  conditions?: { count: number; result: "true" | "false" | "indeterminate" | "none"; indeterminate?: string[] };
  candidate?: boolean;
}

export interface Explanation {
  decision: Decision;
  policies: Array<{ policy: number; name: string | null; applicable: boolean; default_effect: "allow" | "deny" }>;
  rules: ExplainedRule[];
  rateLimits: Array<{ policy: number; index: number; matched: boolean; key?: string | null; count?: number; limit?: number; full?: boolean }>;
  /** Why the winner won, in words. */
  why: string;
}

/** What `on` listens to. */
export interface WardenEvents {
  recovered: RecoveredEvent;
  update: BundleUpdate;
  error: { error: WardenError; source: BundleSource };
  /** A decision whose rule has `alert: true`, as its audit record (whether or not it is recorded). */
  alert: AuditRecord;
  /** The audit sink or an `alert` listener threw; the decision stands. */
  auditError: { error: unknown; record: AuditRecord };
}

/** Emitted after the engine trapped and a fresh instance took over. */
export interface RecoveredEvent {
  error: unknown;
  /** Whether the rate-limit counts were carried over to the new instance. */
  countsCarried: boolean;
}

type Listener<T> = (event: T) => void;

/** `Warden` or a runtime package's subclass of it (its constructor is protected). */
type WardenClass<W extends Warden> = Function & { prototype: W };

const EFFECTS: readonly Effect[] = ["deny", "allow", "escalate"];
const NONE: readonly string[] = Object.freeze([]);

// Decision record offsets (engine/ABI.md §The decision record).
const R_STATUS = 0;
const R_EFFECT = 4;
const R_POLICY = 12;
const R_RULE = 16;
const R_LIMIT_POLICY = 20;
const R_LIMIT_INDEX = 24;
const R_INDET_COUNT = 28;
const R_INDET_PTR = 32;
const R_ERROR_PTR = 36;
const R_ERROR_LEN = 40;

/**
 * The Warden client: loads policies into warden.wasm and decides requests.
 *
 * @example
 * const warden = await Warden.create({ wasm: fetch("/warden.wasm"), policies: [
 *   { name: "support-bot", rules: [{ effect: "allow", action: "tool.call", resource: "tool/lookup_order" }] },
 * ] });
 * warden.check("tool.call", "tool/lookup_order").allowed; // true
 */
export class Warden {
  private engine: EngineInstance;
  private meta: PolicyMetadata | null = null;
  private policies: string | Uint8Array | null = null;
  private contextPaths = new ContextPaths([]);
  /** Checks in progress (a check from user code another one runs is nested), and whether a request record is being written. */
  private depth = 0;
  private writing = false;
  /** The time zones of the policies in force (`metadata.zones`), each sent as its UTC offset. */
  private zones: readonly string[] = NONE;
  /** Whether decisions read the time (`time.*` conditions or rate limits). */
  private needsClock = false;
  /**
   * Decisions by action, then resource, while the engine says the policies in
   * force decide by those alone (`action_resource_only`); null otherwise.
   * Bounded: emptied when it reaches DECISION_CACHE_SIZE, and at every load.
   */
  private decisions: Map<string, Map<string, Decision>> | null = null;
  private decisionCount = 0;
  private keepDecisions = true;
  /**
   * What a decision won by each rule carries, by policy and rule index:
   * made the first time the rule wins (`ruleOutcome`), not at load, where a
   * large set paid for rules that never decide.
   */
  private outcomes: Array<Array<Outcome | undefined>> = [];
  private defaultAllow = outcome("allow", -1, -1, null, null, "", false, true, null, false, null);
  private defaultDeny = outcome("deny", -1, -1, null, null, "no policies have loaded yet, so every request is denied", false, true, null, false, null);
  private version: number | null = null;
  private readonly clock: () => number;
  private approvals: WardenOptions["approvals"] | undefined;
  /** One-time approvals by request digest → approver. */
  private readonly granted = new Map<string, string>();
  private readonly listeners: { [E in keyof WardenEvents]: Set<Listener<WardenEvents[E]>> } = {
    recovered: new Set(), update: new Set(), error: new Set(), alert: new Set(), auditError: new Set(),
  };
  /** Where audit records go, and every policy's `audit.redact` paths (the policies in force). */
  private auditSink: AuditSink | null = null;
  private redacted: readonly string[] = [];
  /** Whether decisions are observed (an audit sink or an `alert` listener): `check` and `checkRequest` are then wrapped. */
  private observing = false;
  // Bundles: the highest version ever loaded (nothing older loads again), and where the one in force came from.
  private highest = 0;
  private source: BundleSource | null = null;
  private loadedAt: Date | null = null;
  private client: BundleClient | null = null;

  /** Use `Warden.create` (runtime packages subclass it with their own defaults). */
  protected constructor(
    private readonly module: WebAssembly.Module,
    engine: EngineInstance,
    clock: (() => number) | undefined,
  ) {
    this.engine = engine;
    this.clock = clock ?? Date.now;
  }

  /** Compiles and instantiates warden.wasm, and loads `policies` when given. */
  static async create<W extends Warden = Warden>(this: WardenClass<W>, options: WardenOptions): Promise<W> {
    const module = await compileWasm(options.wasm);
    const warden = new (this as unknown as new (m: WebAssembly.Module, e: EngineInstance, c?: () => number) => W)(
      module, await EngineInstance.create(module), options.clock,
    );
    warden.approvals = options.approvals;
    warden.keepDecisions = options.keepDecisions ?? true;
    if (options.audit) {
      warden.auditSink = options.audit;
      warden.observe();
    }
    if (options.policies !== undefined) warden.load(options.policies);
    return warden;
  }

  /** Metadata of the policies in force (null before the first load). */
  get metadata(): PolicyMetadata | null {
    return this.meta;
  }

  /** Version of the bundle in force, as given to `load`. */
  get bundleVersion(): number | null {
    return this.version;
  }

  /**
   * Loads a policy set. Throws `PolicyInvalidError` (`ERR_POLICY_INVALID`)
   * listing every error; the policies in force then stay. Rate-limit counts
   * carry over to limits with the same identity (spec §7).
   */
  load(policies: PolicyInput, options: { bundleVersion?: number } = {}): PolicyMetadata {
    const json = typeof policies === "string" || policies instanceof Uint8Array ? policies : JSON.stringify(policies);
    const result = this.call(() => this.engine.load(json));
    if (!result.ok) throw new PolicyInvalidError(result.errors);
    try {
      for (const zone of result.metadata.zones) checkZone(zone);
    } catch (e) {
      // The engine took the new set: give it back the one in force.
      this.call(() => this.engine.load(this.policies ?? "[]"));
      throw e;
    }
    this.meta = result.metadata;
    this.policies = json;
    this.version = options.bundleVersion ?? null;
    this.needsClock = result.metadata.reads_time || result.metadata.policies.some((p) => p.rate_limits.length > 0);
    this.decisions = this.keepDecisions && result.metadata.action_resource_only ? new Map() : null;
    this.decisionCount = 0;
    this.contextPaths = new ContextPaths(result.metadata.paths.slice(0, result.metadata.context_paths));
    this.zones = result.metadata.zones;
    this.redacted = redactedPaths(result.metadata);
    const version = this.version;
    this.outcomes = result.metadata.policies.map((p) => new Array<Outcome | undefined>(p.rules.length));
    this.defaultAllow = outcome("allow", -1, -1, null, null, DEFAULT_ALLOW_REASON, false, true, null, false, version);
    this.defaultDeny = outcome("deny", -1, -1, null, null, DEFAULT_DENY_REASON, false, true, null, false, version);
    return result.metadata;
  }

  /**
   * Decides a request. Never throws: an invalid request is a deny whose
   * `error` says what is wrong.
   */
  check(action: string, resource?: string, context?: object, options?: CheckOptions): Decision {
    const decisions = this.decisions;
    // Without an agent or a time to validate, a kept decision needs only the context checked (§1a).
    if (decisions === null || typeof resource !== "string" || (options !== undefined && (options.agent !== undefined || options.time !== undefined))) {
      return this.run(action, resource, context, options, false);
    }
    const kept = decisions.get(action)?.get(resource);
    if (kept !== undefined && typeof checkContext(context) !== "string") return kept;
    const d = this.run(action, resource, context, options, false);
    // Only a decision the engine made is kept (an invalid request's denial is not), and only while these policies are in force.
    // Keys are short strings only (as long as an interned one): 4,096 megabyte keys would hold gigabytes.
    if (d.error === undefined && this.decisions === decisions && typeof action === "string"
      && action.length <= MAX_KEPT_KEY && resource.length <= MAX_KEPT_KEY) {
      if (this.decisionCount >= DECISION_CACHE_SIZE) {
        decisions.clear();
        this.decisionCount = 0;
      }
      let byResource = decisions.get(action);
      if (byResource === undefined) decisions.set(action, (byResource = new Map()));
      byResource.set(resource, d);
      this.decisionCount++;
    }
    return d;
  }

  /**
   * Decides a request in its JSON form (policy-language.md §1a: `action`, and
   * optionally `resource`, `context`, `agent`, `time` as an RFC 3339 string,
   * no other members), as conformance vectors and batch files write it. Any
   * other shape is an invalid request.
   */
  checkRequest(request: unknown): Decision {
    const problem = requestShapeProblem(request);
    if (problem) return this.invalid(problem);
    const r = request as Record<string, unknown>;
    return this.run(r.action, r.resource, r.context, { agent: r.agent as Agent | null | undefined, time: r.time as string | undefined }, false);
  }

  /** Explains a request in its JSON form (see `checkRequest`), without counting it. */
  explainRequest(request: unknown): Explanation {
    const problem = requestShapeProblem(request);
    if (problem) return this.explained(this.invalid(problem));
    const r = request as Record<string, unknown>;
    return this.explain(r.action as string, r.resource as string | undefined, r.context as object | undefined, {
      agent: r.agent as Agent | null | undefined, time: r.time as string | undefined,
    });
  }

  /** Decides a request and throws `PolicyViolationError` unless it is allowed. */
  enforce(action: string, resource?: string, context?: object, options?: CheckOptions): Decision {
    const d = this.check(action, resource, context, options);
    if (!d.allowed) throw new PolicyViolationError(d);
    return d;
  }

  /**
   * Decides a request like `enforce`, but an escalation goes to a person: a
   * one-time approval granted with `grantApproval` for this request's digest,
   * or else the approval handler given to `create` (§8). Approved, it resolves
   * with the decision allowed and `approvedBy` set; rejected, unanswered in
   * time or without a handler, it rejects with `PolicyViolationError`.
   */
  async authorize(action: string, resource?: string, context?: object, options?: CheckOptions): Promise<Decision> {
    const d = this.check(action, resource, context, options);
    if (d.allowed) return d;
    if (d.effect !== "escalate") throw new PolicyViolationError(d);
    // The approval is recorded under the policies that escalated, whatever loads while a person decides.
    const audited = this.observing ? { meta: this.meta, redacted: this.redacted } : null;
    const digest = await requestDigest({ action, resource, context, agent: options?.agent });
    let approver = this.granted.get(digest);
    if (approver !== undefined) this.granted.delete(digest);
    else if (this.approvals) {
      const { handler, timeout = 5 * 60_000 } = this.approvals;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<{ approved: false }>((r) => {
        timer = setTimeout(() => r({ approved: false }), timeout);
      });
      const answer = await Promise.race([
        handler({ action, resource: resource ?? "", context: context ?? {}, agent: options?.agent ?? null, decision: d, digest }).catch(() => ({ approved: false })),
        expired,
      ]);
      clearTimeout(timer);
      if (answer.approved) approver = (answer as { approver?: string }).approver ?? "";
    }
    if (approver === undefined) throw new PolicyViolationError(d);
    const approved = { ...d, allowed: true, approvedBy: approver, approvalDigest: digest };
    // The escalation was observed by `check`; the approval is a decision of its own, naming the approver.
    if (audited !== null) this.observed(approved, action, resource, context, options?.agent, options?.time, audited);
    return approved;
  }

  /** Lets the request with this digest through `authorize` once, approved by `approver` (an approval given out of band). */
  grantApproval(digest: string, approver: string): void {
    this.granted.set(digest, approver);
  }

  /** Explains the decision `check` would make now, without counting it against rate limits. */
  explain(action: string, resource?: string, context?: object, options?: CheckOptions): Explanation {
    return this.explained(this.run(action, resource, context, options, true));
  }

  private explained(decision: Decision): Explanation {
    if (decision.error) {
      return { decision, policies: [], rules: [], rateLimits: [], why: `the request is invalid: ${decision.error.message}` };
    }
    const raw = JSON.parse(this.engine.explanation());
    return { decision, policies: raw.policies, rules: raw.rules, rateLimits: raw.rate_limits, why: raw.why };
  }

  /** The rate-limit counts, to carry into another instance with `importState`. */
  exportState(): string {
    return this.call(() => this.engine.exportState());
  }

  /** Adds exported counts to the limits in force. Throws `ERR_STATE_INVALID` on malformed state. */
  importState(state: string): void {
    this.call(() => this.engine.importState(state));
  }

  /**
   * Listens for `update` (a bundle loaded), `error` (a bundle refused or a
   * fetch failed; the bundle in force stays) or `recovered` (the engine
   * trapped and a fresh instance took over); returns a function that stops.
   */
  on<E extends keyof WardenEvents>(event: E, listener: Listener<WardenEvents[E]>): () => void {
    const set = this.listeners[event] as Set<Listener<WardenEvents[E]>>;
    set.add(listener);
    if (event === "alert") this.observe();
    return () => set.delete(listener);
  }

  /**
   * From now on, every decision of `check` and `checkRequest` (and so of
   * `enforce` and `authorize`) is observed: recorded and alerted as its
   * policies say. The methods are wrapped on this instance only, so a client
   * that never audits runs the very same `check` as before.
   */
  private observe(): void {
    if (this.observing) return;
    this.observing = true;
    const proto = Object.getPrototypeOf(this) as Warden;
    const check = proto.check;
    const checkRequest = proto.checkRequest;
    // The context and the agent are read once, as JSON reads them, for both the decision and its record.
    this.check = (action, resource, context, options) => {
      const plain = readOnce(context) as object | undefined;
      const agent = options?.agent === undefined ? undefined : readOnce(options.agent) as Agent | null;
      const d = check.call(this, action, resource, plain, agent === undefined ? options : { ...options, agent });
      this.observed(d, action, resource, plain, agent, options?.time);
      return d;
    };
    this.checkRequest = (request) => {
      const r = request !== null && typeof request === "object" && !Array.isArray(request) ? { ...(request as Record<string, unknown>) } : null;
      if (r !== null) {
        if ("context" in r) r.context = readOnce(r.context);
        if ("agent" in r) r.agent = readOnce(r.agent);
      }
      const d = checkRequest.call(this, r ?? request);
      const seen = r ?? {};
      this.observed(d, seen.action, seen.resource, seen.context, seen.agent, seen.time);
      return d;
    };
  }

  /**
   * Writes the decision's audit record and raises its alert, as its policies
   * say (those in force when it was decided: `policies`); never throws.
   */
  private observed(
    d: Decision, action: unknown, resource: unknown, context: unknown, agent: unknown, time: unknown,
    policies: { meta: PolicyMetadata | null; redacted: readonly string[] } = { meta: this.meta, redacted: this.redacted },
  ): void {
    const sink = this.auditSink !== null && isRecorded(d, policies.meta) ? this.auditSink : null;
    if (sink === null && !d.alert) return;
    let record: AuditRecord;
    try {
      record = auditRecord(d, { action, resource, context, agent, time }, this.clock, policies.redacted);
    } catch {
      return; // only the clock can throw here, and the decision already read it
    }
    if (d.alert) for (const listener of this.listeners.alert) this.guarded(record, () => listener(record));
    if (sink !== null) this.guarded(record, () => sink(record));
  }

  /**
   * Runs user code given a record: what it throws is an `auditError` event
   * (a warning on the console when nothing listens; what a listener of
   * `auditError` throws, nothing).
   */
  private guarded(record: AuditRecord, f: () => void): void {
    try {
      f();
    } catch (error) {
      if (this.listeners.auditError.size === 0) {
        console.warn(`warden: an audit record was not written or an alert listener failed: ${(error as Error)?.message ?? String(error)}`);
        return;
      }
      try {
        this.emit("auditError", { error, record });
      } catch {
        // The decision stands whatever its observers throw.
      }
    }
  }

  private emit<E extends keyof WardenEvents>(event: E, value: WardenEvents[E]): void {
    for (const listener of this.listeners[event] as Set<Listener<WardenEvents[E]>>) listener(value);
  }

  // -------------------------------------------------------------------------
  // Bundles (bundle-format.md)

  /**
   * A client that enforces a project's signed bundles from `url`: it loads its
   * cache first (offline, the last good bundle), then the network, then polls.
   * Until a bundle loads, every check denies.
   *
   * @example
   * const warden = await Warden.connect({
   *   wasm, url: "https://cdn.example.com/proj_support.bundle.json", project: "proj_support",
   *   projectKey: env.WARDEN_PROJECT_KEY, trustedKeys: { k1: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" },
   * });
   */
  static async connect<W extends Warden = Warden>(this: WardenClass<W>, options: WardenOptions & ConnectOptions): Promise<W> {
    // Every client option but `policies` (the bundles bring them): the clock, approvals, kept decisions, the audit sink.
    const { wasm, clock, approvals, keepDecisions, audit } = options;
    const warden = await (Warden.create as (this: unknown, o: WardenOptions) => Promise<W>).call(this, { wasm, clock, approvals, keepDecisions, audit });
    const client = new BundleClient(warden.bundleTarget(), options, (error, source) => warden.emit("error", { error, source }));
    warden.client = client;
    await client.start();
    return warden;
  }

  private bundleTarget(): BundleTarget {
    const warden = this;
    return {
      loadBundle: (text, trust, source) => warden.acceptBundle(text, trust, source),
      get highestVersion() {
        return warden.highest;
      },
      raiseFloor: (v) => {
        warden.highest = Math.max(warden.highest, v);
      },
      inForce: () => warden.version,
    };
  }

  /**
   * Loads a bundle file's text through every step of bundle-format.md
   * §Loading, in order; throws a `BundleError` whose `code` is the step's
   * (`ERR_BUNDLE_FORMAT` … `ERR_POLICY_INVALID`), and then nothing changes.
   * A bundle with the version in force changes nothing either.
   */
  async loadBundle(text: string, trust: BundleTrust): Promise<{ version: number; changed: boolean }> {
    return this.acceptBundle(text, trust, "direct");
  }

  private async acceptBundle(text: string, trust: BundleTrust, source: BundleSource): Promise<{ version: number; changed: boolean }> {
    const opened = await openBundle(text, trust, this.version, this.highest);
    if (opened === "unchanged") return { version: this.version!, changed: false };
    const version = opened.bundle.version;
    // Step 7: the payload is {"policies": [...]} (the engine checks the rest) and every policy loads.
    if (firstByte(opened.payload) !== 0x7b) throw new BundleError("ERR_POLICY_INVALID", "the payload must be a JSON object {\"policies\": [...]}");
    try {
      this.load(opened.payload, { bundleVersion: version });
    } catch (e) {
      if (!(e instanceof PolicyInvalidError)) throw e;
      throw new BundleError("ERR_POLICY_INVALID", `the bundle's policies do not load: ${e.message}`, e.errors);
    }
    this.highest = Math.max(this.highest, version);
    this.source = source;
    this.loadedAt = new Date();
    this.emit("update", { version, source });
    return { version, changed: true };
  }

  /** Fetches the bundle now (a connected client); resolves once it is loaded, refused or unreachable. */
  async refresh(): Promise<BundleStatus> {
    if (!this.client) throw new WardenError("ERR_NOT_CONNECTED", "refresh needs a client made by Warden.connect");
    await this.client.refresh();
    return this.status();
  }

  /** The bundle in force, where it came from, the last fetch and the last error. */
  status(): BundleStatus {
    return {
      version: this.version, source: this.source, loadedAt: this.loadedAt, highestVersion: this.highest,
      lastFetch: this.client?.lastFetch ?? null, lastError: this.client?.lastError ?? null,
    };
  }

  /** Stops polling (a connected client). The bundle in force stays. */
  close(): void {
    this.client?.close();
  }

  /** Pauses polling, as while a page is hidden; `resume` starts again (fetching at once if a poll fell due). */
  pause(): void {
    this.client?.pause();
  }

  resume(): void {
    this.client?.resume();
  }

  // -------------------------------------------------------------------------

  // The path of every check is kept to a few small methods, the rare cases
  // moved out of them, so that V8 inlines the whole of it (it stops inlining
  // into one function past a bytecode budget).

  private run(action: unknown, resource: unknown, context: unknown, options: CheckOptions | undefined, explain: boolean): Decision {
    // User code runs inside a decision: the clock, a `recovered` listener, a getter or `toJSON` of the
    // context or the agent. A check from there while the request record is being written would overwrite
    // it, and is refused; from anywhere else it decides as usual, reading the context into its own array.
    if (this.writing) return this.invalid(REENTERED);
    const nested = this.depth > 0;
    this.depth++;
    let d: Decision;
    try {
      d = this.decideRequest(action, resource, context, options, explain, nested, false);
    } catch (e) {
      d = this.threw(e);
    }
    this.depth--;
    return d;
  }

  /** Deciding never throws (§5): what user code threw, or a bug here, denies. */
  private threw(e: unknown): Decision {
    this.writing = false;
    return this.failed(`deciding threw (a getter or toJSON of the request, the clock or a listener can): ${String(e)}`);
  }

  private decideRequest(
    action: unknown, resource: unknown, context: unknown, options: CheckOptions | undefined, explain: boolean,
    nested: boolean, again: boolean,
  ): Decision {
    let now: Instant | string;
    const time = options?.time;
    // The clock costs tens of nanoseconds: read it only when the policies can see it.
    if (time === undefined) now = this.needsClock ? instantOfMillis(this.clock()) : EPOCH;
    else {
      now = this.instantOf(time);
      if (typeof now === "string") return this.invalid(now);
    }
    const paths = this.contextPaths;
    const values = nested ? new Array<unknown>(paths.heads.length) : paths.values;
    const checked = checkContext(context, paths.heads, values);
    if (typeof checked === "string") return this.invalid(checked);
    const agent = options?.agent;
    let d: Decision | null;
    try {
      d = this.decide(action, resource, agent, now, explain, paths, values);
    } catch (e) {
      d = this.afterThrow(e, action, resource, agent, now, explain, paths, values);
    }
    return d ?? this.reloaded(action, resource, context, options, explain, nested, again);
  }

  /** The policies were loaded again while the request was read (from user code it ran): read it for them, once. */
  private reloaded(
    action: unknown, resource: unknown, context: unknown, options: CheckOptions | undefined, explain: boolean,
    nested: boolean, again: boolean,
  ): Decision {
    if (again) return this.invalid("the policies were loaded again while this request was being read, twice (from a getter or toJSON of it?)");
    return this.decideRequest(action, resource, context, options, explain, nested, true);
  }

  /** The instant of a request's `time`, or why it is not one. */
  private instantOf(time: unknown): Instant | string {
    if (typeof time === "string") {
      const parsed = this.call(() => this.engine.parseTime(time));
      return parsed ?? "`time` must be an RFC 3339 time such as `2026-03-05T10:00:00Z`";
    }
    if (time instanceof Date || typeof time === "number") {
      const ms = +time;
      return Number.isFinite(ms) ? instantOfMillis(ms) : "`time` is not a valid instant";
    }
    return "`time` must be an RFC 3339 string, a Date or epoch milliseconds";
  }

  /** A request that could not be encoded, or an engine trap: recover and decide once more (null: policies reloaded). */
  private afterThrow(
    e: unknown, action: unknown, resource: unknown, agent: unknown, now: Instant, explain: boolean, paths: ContextPaths, values: unknown[],
  ): Decision | null {
    this.writing = false;
    if (e instanceof InvalidRequest) return this.invalid(e.message);
    if (!isTrap(e)) throw e;
    this.recover(e);
    try {
      return this.decide(action, resource, agent, now, explain, paths, values);
    } catch (again) {
      if (!isTrap(again)) throw again;
      this.recover(again);
      return this.failed(`the engine trapped twice on this request: ${String(again)}`);
    }
  }

  /**
   * Writes the request record and decides it, with the context values read
   * for `paths`; null when other policies were loaded since (by user code
   * the request ran), and so the record would not fit them.
   */
  private decide(
    action: unknown, resource: unknown, agent: unknown, now: Instant, explain: boolean, paths: ContextPaths, values: unknown[],
  ): Decision | null {
    if (paths !== this.contextPaths) return null;
    // Cleared when the record is decided, or by afterThrow or threw when writing it throws.
    this.writing = true;
    const engine = this.engine;
    const zones = this.zones;
    const offsets = zones.length === 0 ? NONE_OFFSETS : zoneOffsets(zones, now);
    const slots = paths.count;
    engine.beginRequest(now, offsets, slots);
    if (typeof action === "string") engine.writeInternable(action, Site.Action);
    else engine.writeValue(jsonView(action, ""), 64);
    if (resource === undefined) engine.writeMissing();
    else if (typeof resource === "string") engine.writeInternable(resource, Site.Resource);
    else engine.writeValue(jsonView(resource, ""), 64);
    if (agent === undefined) engine.writeMissing();
    else engine.writeAgent(agent);
    for (let i = 0; i < slots; i++) {
      const v = paths.value(values, i);
      if (v === MISSING) engine.writeMissing();
      else engine.writeValue(v, 64 - paths.depth(i));
    }
    this.writing = false;
    // A getter or toJSON of a value just written may have loaded other policies.
    if (paths !== this.contextPaths) return null;
    return this.read(engine.decide(explain));
  }

  private read(r: number): Decision {
    const e = this.engine;
    if (e.u32(r + R_STATUS) !== 0) return this.invalid(e.utf8(e.u32(r + R_ERROR_PTR), e.u32(r + R_ERROR_LEN)));
    const policy = e.i32(r + R_POLICY);
    // Most decisions are exactly their rule's outcome: one frozen object, shared.
    if (policy >= 0 && e.u32(r + R_INDET_COUNT) === 0 && e.i32(r + R_LIMIT_POLICY) < 0) {
      const rule = e.i32(r + R_RULE);
      return (this.outcomes[policy][rule] ?? this.ruleOutcome(policy, rule)).decision;
    }
    return this.readRest(r, policy);
  }

  /** The outcome of a rule of the policies in force, made and kept the first time it is needed. */
  private ruleOutcome(policy: number, rule: number): Outcome {
    const p = this.meta!.policies[policy];
    const r = p.rules[rule];
    const o = outcome(
      r.effect, policy, rule, p.name, r.name, r.reason ?? generatedReason(r.effect, policy, rule, p.name, r.name),
      r.reason !== null, r.log, r.log_context, r.alert, this.version,
    );
    this.outcomes[policy][rule] = o;
    return o;
  }

  /** `read` for a default decision, indeterminate paths or a rate limit. */
  private readRest(r: number, policy: number): Decision {
    const e = this.engine;
    const effect = EFFECTS[e.u32(r + R_EFFECT)];
    const limitPolicy = e.i32(r + R_LIMIT_POLICY);
    const n = e.u32(r + R_INDET_COUNT);
    let indeterminate = NONE;
    if (n > 0) {
      const list = e.u32(r + R_INDET_PTR);
      const paths = this.meta!.paths;
      const out: string[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = paths[e.u32(list + 4 * i)];
      indeterminate = out;
    }
    const rule = e.i32(r + R_RULE);
    const o = policy >= 0 ? this.outcomes[policy][rule] ?? this.ruleOutcome(policy, rule) : effect === "allow" ? this.defaultAllow : this.defaultDeny;
    if (n === 0 && limitPolicy < 0) return o.decision;
    let reason = o.reason;
    let reasonGiven = o.reasonGiven;
    let rateLimit: RateLimitRef | null = null;
    if (limitPolicy >= 0) {
      const index = e.i32(r + R_LIMIT_INDEX);
      rateLimit = { policy: limitPolicy, index };
      reason = this.meta!.policies[limitPolicy].rate_limits[index].reason;
      reasonGiven = true;
    }
    return {
      allowed: effect === "allow",
      effect,
      policy: policy >= 0 ? policy : null,
      policyName: o.policyName,
      rule: rule >= 0 ? rule : null,
      ruleName: o.ruleName,
      reason,
      reasonGiven,
      indeterminate,
      rateLimit,
      bundleVersion: this.version,
      log: o.log,
      logContext: o.logContext,
      alert: o.alert,
    };
  }

  private invalid(message: string): Decision {
    return this.denial({ code: "ERR_REQUEST_INVALID", message }, `invalid request: ${message}`);
  }

  private failed(message: string): Decision {
    return this.denial({ code: "ERR_ENGINE", message }, message);
  }

  private denial(error: NonNullable<Decision["error"]>, reason: string): Decision {
    return {
      allowed: false, effect: "deny", policy: null, policyName: null, rule: null, ruleName: null,
      reason, reasonGiven: false, indeterminate: NONE, rateLimit: null, bundleVersion: this.version,
      log: true, logContext: null, alert: false, error,
    };
  }

  /** Runs an engine call; a trap makes a fresh instance (and the call is retried once). */
  private call<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (!isTrap(e)) throw e;
      this.recover(e);
      return f();
    }
  }

  /**
   * Replaces a trapped instance: a new one with the policies in force and, if
   * the old one can still export them, the rate-limit counts.
   */
  private recover(error: unknown): void {
    let state: string | null = null;
    try {
      state = this.engine.exportState();
    } catch {
      state = null;
    }
    const fresh = EngineInstance.createSync(this.module);
    if (this.policies !== null) {
      const r = fresh.load(this.policies);
      if (!r.ok) throw new WardenError("ERR_ENGINE", "the policies in force no longer load into a fresh engine", r.errors);
    }
    let countsCarried = false;
    if (state !== null) {
      try {
        fresh.importState(state);
        countsCarried = true;
      } catch {
        countsCarried = false;
      }
    }
    this.engine = fresh;
    this.emit("recovered", { error, countsCarried });
  }
}

const NONE_OFFSETS: readonly number[] = Object.freeze([]);
const REENTERED = "a check was made while this client was writing another's request (from a getter or `toJSON` of a value it sends): decide one request at a time";

/** Each zone's UTC offset at `now`. */
function zoneOffsets(zones: readonly string[], now: Instant): number[] {
  return zones.map((z) => zoneOffset(z, now.seconds * 1000));
}

function firstByte(bytes: Uint8Array): number {
  for (const b of bytes) if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return b;
  return -1;
}
const REQUEST_MEMBERS = new Set(["action", "resource", "context", "agent", "time"]);

/** What is wrong with the shape of a JSON-form request (spec §1a), or null; the engine checks the values. */
function requestShapeProblem(request: unknown): string | null {
  if (request === null || typeof request !== "object" || Array.isArray(request)) return "a request must be a JSON object";
  const r = request as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!REQUEST_MEMBERS.has(key)) return `unknown request member \`${key}\`: a request has \`action\`, \`resource\`, \`context\`, \`agent\` and \`time\``;
  }
  if (!("action" in r)) return "a request needs `action`";
  if (r.time !== undefined && typeof r.time !== "string") return "`time` must be an RFC 3339 string";
  return null;
}
/** Decisions kept at most (about a megabyte of keys and maps at typical lengths). */
const DECISION_CACHE_SIZE = 4096;
/** The longest action or resource (UTF-16 units) whose decision is kept. */
const MAX_KEPT_KEY = 256;

const EPOCH: Instant = Object.freeze({ seconds: 0, nanos: 0, attos: 0 });

function isTrap(e: unknown): boolean {
  return e instanceof WebAssembly.RuntimeError || (e instanceof RangeError && /call stack/i.test(e.message));
}

/** The parts of a decision fixed by the rule that won it (or by the default), and that decision itself. */
interface Outcome {
  policyName: string | null;
  ruleName: string | null;
  reason: string;
  reasonGiven: boolean;
  log: boolean;
  logContext: readonly string[] | null;
  alert: boolean;
  /** The decision when nothing else (indeterminate paths, a rate limit) is added: frozen, shared. */
  decision: Decision;
}

const DEFAULT_ALLOW_REASON = "no rule matched, and every applicable policy allows by default";
const DEFAULT_DENY_REASON = "no rule matched, so the request is denied by default";

function outcome(
  effect: Effect, policy: number, rule: number, policyName: string | null, ruleName: string | null, reason: string,
  reasonGiven: boolean, log: boolean, logContext: readonly string[] | null, alert: boolean, bundleVersion: number | null,
): Outcome {
  const frozenContext = logContext ? Object.freeze([...logContext]) : null;
  const decision: Decision = Object.freeze({
    allowed: effect === "allow", effect, policy: policy >= 0 ? policy : null, policyName, rule: rule >= 0 ? rule : null, ruleName,
    reason, reasonGiven, indeterminate: NONE, rateLimit: null, bundleVersion, log, logContext: frozenContext, alert,
  });
  return { policyName, ruleName, reason, reasonGiven, log, logContext: frozenContext, alert, decision };
}

function generatedReason(effect: Effect, policy: number, rule: number, policyName: string | null, ruleName: string | null): string {
  const verb = effect === "allow" ? "allowed" : effect === "deny" ? "denied" : "escalated for approval";
  const r = ruleName ? `rule ${rule} (\`${ruleName}\`)` : `rule ${rule}`;
  const p = policyName ? `policy ${policy} (\`${policyName}\`)` : `policy ${policy}`;
  return `${verb} by ${r} of ${p}`;
}
