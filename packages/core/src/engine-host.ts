// The one JavaScript host of warden.wasm: every byte that crosses the ABI
// (engine/ABI.md) is written or read here, and nowhere else.

import type { WardenExports as Exports } from "@warden/engine/abi";
import { WardenError, type PolicyError } from "./errors.js";

/** What a runtime can hand over for warden.wasm. */
export type WasmSource =
  | WebAssembly.Module
  | ArrayBuffer
  | ArrayBufferView
  | Response
  | PromiseLike<WebAssembly.Module | ArrayBuffer | ArrayBufferView | Response>;

export async function compileWasm(source: WasmSource): Promise<WebAssembly.Module> {
  const s = await source;
  if (s instanceof WebAssembly.Module) return s;
  if (typeof Response !== "undefined" && s instanceof Response) {
    if (!s.ok) throw new WardenError("ERR_WASM", `fetching warden.wasm failed with HTTP ${s.status}`);
    // Compile while it downloads; a server that does not send application/wasm makes
    // compileStreaming refuse, so then compile the bytes.
    if (typeof WebAssembly.compileStreaming === "function" && s.headers.get("Content-Type")?.startsWith("application/wasm")) {
      return WebAssembly.compileStreaming(s);
    }
    return WebAssembly.compile(await s.arrayBuffer());
  }
  if (s instanceof ArrayBuffer || ArrayBuffer.isView(s)) return WebAssembly.compile(s as BufferSource);
  throw new WardenError("ERR_WASM", "warden.wasm must be given as a WebAssembly.Module, bytes, a Response or a promise of one");
}


const ABI_VERSION = 2;

/** Metadata the engine returns from a successful load (ABI.md §Loading). */
export interface PolicyMetadata {
  policies: Array<{
    name: string | null;
    default_effect: "allow" | "deny";
    audit: { log_allowed: boolean; log_denied: boolean; redact: string[] | null } | null;
    rules: Array<{
      name: string | null;
      effect: "allow" | "deny" | "escalate";
      reason: string | null;
      log: boolean;
      log_context: string[] | null;
      alert: boolean;
    }>;
    rate_limits: Array<{ reason: string }>;
  }>;
  paths: string[];
  context_paths: number;
  zones: string[];
  reads_time: boolean;
  rules: number;
  /** Every decision depends on the action and resource alone (ABI.md): they may be kept by (action, resource). */
  action_resource_only: boolean;
}

type RuleMetadata = PolicyMetadata["policies"][number]["rules"][number];

/** What a rule the engine writes as its effect alone (ABI.md §Loading) stands for: one object per effect, shared. */
const PLAIN_RULES: Readonly<Record<string, RuleMetadata>> = Object.freeze(Object.fromEntries((["allow", "deny", "escalate"] as const).map((effect) =>
  [effect, Object.freeze({ name: null, effect, reason: null, log: true, log_context: null, alert: false })])));

/**
 * The metadata, read-only all through (a host reads it lazily to make a
 * rule's decision, so a caller's edit must not reach decisions), with each
 * rule written as its effect alone replaced by what it stands for.
 */
function frozenMetadata(m: PolicyMetadata): PolicyMetadata {
  for (const p of m.policies) {
    const rules = p.rules as Array<RuleMetadata | string>;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      if (typeof r === "string") rules[i] = PLAIN_RULES[r];
      else {
        if (r.log_context) Object.freeze(r.log_context);
        Object.freeze(r);
      }
    }
    Object.freeze(rules);
    if (p.audit) {
      if (p.audit.redact) Object.freeze(p.audit.redact);
      Object.freeze(p.audit);
    }
    for (const l of p.rate_limits) Object.freeze(l);
    Object.freeze(p.rate_limits);
    Object.freeze(p);
  }
  Object.freeze(m.policies);
  Object.freeze(m.paths);
  Object.freeze(m.zones);
  return Object.freeze(m);
}

/** An instant, exactly as the engine holds it: whole epoch seconds, then the fraction. */
export interface Instant {
  seconds: number;
  /** Nanoseconds, 0 to 999,999,999. */
  nanos: number;
  /** Attoseconds below the nanosecond, 0 to 999,999,999. */
  attos: number;
}

/** The instant of epoch milliseconds (a whole or fractional number). */
export function instantOfMillis(ms: number): Instant {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.max(0, Math.round((ms - seconds * 1000) * 1e6)));
  return { seconds, nanos, attos: 0 };
}

/** Raised inside the host when a request cannot be encoded; becomes ERR_REQUEST_INVALID. */
export class InvalidRequest extends Error {}

// Value tags (ABI.md §Values).
const T_MISSING = 0;
const T_NULL = 1;
const T_FALSE = 2;
const T_TRUE = 3;
const T_NUMBER = 4;
const T_STRING = 5;
const T_ARRAY = 6;
const T_OBJECT = 7;
const T_INTERNED = 8;
const T_AGENT = 9;
/** Strings the host keeps interned at once, and the longest it interns. */
const MAX_INTERNED = 4096;
const MAX_INTERNED_LENGTH = 256;
/** Places for recently sent interned strings, by hash (a power of two). */
const HASHED = 128;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A value as JSON.stringify sees it: `toJSON` applied, boxed primitives unwrapped. */
export function jsonView(v: unknown, key: string): unknown {
  if (v !== null && (typeof v === "object" || typeof v === "function" || typeof v === "bigint")) {
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") v = toJSON.call(v, key);
    if (v instanceof Number || v instanceof String || v instanceof Boolean) v = v.valueOf();
  }
  return v;
}

/** Whether JSON.stringify leaves the member out (undefined, functions, symbols). */
export function omitted(v: unknown): boolean {
  return v === undefined || typeof v === "function" || typeof v === "symbol";
}

/** Where a request names an internable string (EngineInstance.writeInternable keeps the last two of each). */
export const enum Site {
  Action = 0,
  Resource = 1,
  AgentId = 2,
  TrustLevel = 3,
}

/** One instance of warden.wasm. */
export class EngineInstance {
  private readonly x: Exports;
  private bytes: Uint8Array;
  private view: DataView;
  // The request being written: start of the scratch area, write position, capacity.
  private base = 0;
  private pos = 0;
  private cap = 0;
  /** Strings of this instance's intern table: id, or -1 for seen once. */
  private readonly interned = new Map<string, number>();
  /**
   * Interned strings recently sent, with their ids, looked at before the Map
   * (whose lookups were ~15 % of a refund check): first the last two of each
   * write site (`Site`), one `===` each, which is all most requests need; then
   * a place picked by a hash of the length and two characters, which catches
   * requests that rotate over more strings. -1 marks an empty place. Strings
   * only, so `===` there compares strings.
   */
  private readonly recent: string[] = new Array<string>(8).fill("");
  private readonly recentIds = new Int32Array(8).fill(-1);
  private readonly hashed: string[] = new Array<string>(HASHED).fill("");
  private readonly hashedIds = new Int32Array(HASHED).fill(-1);
  /** The instant and slot count of the header in the scratch area, when it has no zone offsets. */
  private headerNow: Instant | null = null;
  private headerSlots = -1;

  private constructor(instance: WebAssembly.Instance) {
    this.x = instance.exports as unknown as Exports;
    this.bytes = new Uint8Array(this.x.memory.buffer);
    this.view = new DataView(this.x.memory.buffer);
    if (this.x.abi_version() !== ABI_VERSION) {
      throw new WardenError("ERR_WASM", `warden.wasm speaks ABI ${this.x.abi_version()}, this host speaks ${ABI_VERSION}`);
    }
  }

  static async create(module: WebAssembly.Module): Promise<EngineInstance> {
    return new EngineInstance(await WebAssembly.instantiate(module, {}));
  }

  /** Instantiates synchronously (a trap recovery must not make `check` async). */
  static createSync(module: WebAssembly.Module): EngineInstance {
    return new EngineInstance(new WebAssembly.Instance(module, {}));
  }

  /** Re-reads the memory after it grew (growing detaches the old buffer, whose views then have length 0). */
  private refresh(): void {
    if (this.bytes.length === 0) {
      this.bytes = new Uint8Array(this.x.memory.buffer);
      this.view = new DataView(this.x.memory.buffer);
    }
  }

  private output(): string {
    this.refresh();
    const p = this.x.output_ptr();
    return decoder.decode(this.bytes.subarray(p, p + this.x.output_len()));
  }

  private withBytes<T>(data: Uint8Array, f: (ptr: number, len: number) => T): T {
    const ptr = this.x.alloc(data.length);
    try {
      this.refresh();
      this.bytes.set(data, ptr);
      return f(ptr, data.length);
    } finally {
      this.x.free(ptr);
    }
  }

  /** `text` as UTF-8 in the engine's memory, for the call: encoded straight there, not into a new array first. */
  private withText<T>(text: string, f: (ptr: number, len: number) => T): T {
    // At most three bytes of UTF-8 per UTF-16 code unit (a lone surrogate becomes U+FFFD, as `encode` makes it).
    const room = text.length * 3;
    const ptr = this.x.alloc(room);
    try {
      this.refresh();
      const { written } = encoder.encodeInto(text, this.bytes.subarray(ptr, ptr + room));
      return f(ptr, written);
    } finally {
      this.x.free(ptr);
    }
  }

  /** Loads a JSON array of policies (text or UTF-8); the engine keeps its policies on failure. */
  load(json: string | Uint8Array): { ok: true; metadata: PolicyMetadata } | { ok: false; errors: PolicyError[] } {
    const load = (p: number, n: number) => this.x.load(p, n);
    const status = typeof json === "string" ? this.withText(json, load) : this.withBytes(json, load);
    const result = JSON.parse(this.output());
    if (status === 0) {
      // A fresh object rather than `delete result.ok`, which would leave the metadata in slow (dictionary) mode.
      const { ok: _, ...metadata } = result;
      return { ok: true, metadata: frozenMetadata(metadata as PolicyMetadata) };
    }
    return { ok: false, errors: result.errors as PolicyError[] };
  }

  /** The instant of an RFC 3339 time, exact, or null when the text is not one. */
  parseTime(text: string): Instant | null {
    return this.withText(text, (p, n) => {
      const r = this.x.parse_time(p, n);
      this.refresh();
      if (r === 0) return null;
      return { seconds: this.view.getFloat64(r, true), nanos: this.view.getUint32(r + 8, true), attos: this.view.getUint32(r + 12, true) };
    });
  }

  exportState(): string {
    this.x.state_export();
    return this.output();
  }

  importState(state: string): void {
    const status = this.withText(state, (p, n) => this.x.state_import(p, n));
    if (status !== 0) throw new WardenError("ERR_STATE_INVALID", JSON.parse(this.output()).message);
  }

  // -------------------------------------------------------------------------
  // Writing a request record (ABI.md §The request record)

  private ensure(extra: number): void {
    if (this.pos + extra <= this.cap) return;
    const size = Math.max(this.pos + extra, this.cap * 2);
    this.base = this.x.request_reserve(size);
    this.cap = size;
    this.refresh();
  }

  /** Starts a record: the instant, each zone's UTC offset and the number of context slots. */
  beginRequest(now: Instant, offsets: readonly number[], slots: number): void {
    if (this.cap === 0) {
      this.cap = 1024;
      this.base = this.x.request_reserve(this.cap);
      this.refresh();
    }
    // Start the table over between requests, never while one names ids in it.
    if (this.interned.size >= MAX_INTERNED) this.forgetInterned();
    this.pos = 0;
    const zones = offsets.length;
    this.ensure(24 + 4 * zones);
    // The engine only reads the scratch area (and keeps it when it grows): a header
    // that would be written as it stands, with no zone offsets, is left as it is.
    if (zones === 0 && now === this.headerNow && slots === this.headerSlots) {
      this.pos = 24;
      return;
    }
    const v = this.view;
    const b = this.base;
    v.setFloat64(b, now.seconds, true);
    v.setUint32(b + 8, now.nanos, true);
    v.setUint32(b + 12, now.attos, true);
    v.setUint32(b + 16, zones, true);
    v.setUint32(b + 20, slots, true);
    for (let i = 0; i < zones; i++) v.setInt32(b + 24 + 4 * i, offsets[i], true);
    this.pos = 24 + 4 * zones;
    // Instants are never changed once made (Object.freeze'd or fresh per request), so identity is equality.
    this.headerNow = zones === 0 ? now : null;
    this.headerSlots = slots;
  }

  writeMissing(): void {
    this.ensure(1);
    this.bytes[this.base + this.pos++] = T_MISSING;
  }

  /**
   * Writes a value as JSON.stringify would: `v` as `jsonView` gave it (its
   * toJSON applied once, by the caller), its members and elements viewed
   * here; `depth` bounds the containers.
   */
  writeValue(v: unknown, depth: number): void {
    // `typeof v === "…"` tests, not a switch on `typeof v`: V8 compiles the tests to type checks and the switch to a call.
    if (typeof v === "number") {
      if (Number.isFinite(v)) {
        this.ensure(9);
        this.bytes[this.base + this.pos] = T_NUMBER;
        this.view.setFloat64(this.base + this.pos + 1, v, true);
        this.pos += 9;
      } else this.writeTag(T_NULL);
      return;
    }
    if (typeof v === "string") {
      this.writeString(v);
      return;
    }
    if (typeof v === "boolean") {
      this.writeTag(v ? T_TRUE : T_FALSE);
      return;
    }
    if (v === null) {
      this.writeTag(T_NULL);
      return;
    }
    // (A BigInt with a toJSON of its own was turned by jsonView, as every value here was.)
    if (typeof v === "bigint") throw new InvalidRequest("a BigInt has no JSON form: convert it to a number or a string");
    if (typeof v !== "object") {
      // undefined, a function or a symbol: null, as in a JSON array.
      this.writeTag(T_NULL);
      return;
    }
    if (depth <= 0) throw new InvalidRequest("the context nests more than 64 levels deep");
    this.ensure(9);
    const at = this.pos;
    this.pos += 9;
    let count = 0;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const e = jsonView(v[i], String(i));
        if (omitted(e)) this.writeTag(T_NULL);
        else this.writeValue(e, depth - 1);
        count++;
      }
      this.bytes[this.base + at] = T_ARRAY;
    } else {
      for (const key of Object.keys(v as object)) {
        const e = jsonView((v as Record<string, unknown>)[key], key);
        if (omitted(e)) continue;
        this.writeName(key);
        this.writeValue(e, depth - 1);
        count++;
      }
      this.bytes[this.base + at] = T_OBJECT;
    }
    this.view.setUint32(this.base + at + 1, count, true);
    this.view.setUint32(this.base + at + 5, this.pos - at - 9, true);
  }

  private writeTag(tag: number): void {
    this.ensure(1);
    this.bytes[this.base + this.pos++] = tag;
  }

  private writeName(s: string): void {
    this.ensure(4);
    const at = this.pos;
    this.pos += 4;
    const n = this.writeUtf8(s);
    this.view.setUint32(this.base + at, n, true);
  }

  /**
   * Writes an action or resource: by its interned id when it has one, else as
   * text. A string seen a second time is interned (ABI.md §Values), so one
   * seen once costs only a map entry.
   */
  writeInternable(s: string, site: Site): void {
    // Small enough for V8 to inline: the last two strings of the site, else the rest.
    const k = site << 1;
    const recent = this.recent;
    let id = -1;
    if (s === recent[k]) id = this.recentIds[k];
    else if (s === recent[k + 1]) id = this.recentIds[k + 1];
    if (id < 0) {
      id = this.internedId(s, k);
      if (id < 0) {
        this.writeString(s);
        return;
      }
    }
    this.writeId(id);
  }

  /** The id of a string not among the last two of its site (`k`: their place), or -1 to send it as text. */
  private internedId(s: string, k: number): number {
    // Strings too long to intern are never remembered (a 1 MB action must not stay alive here).
    const n = s.length;
    if (n > MAX_INTERNED_LENGTH) return -1;
    const h = n === 0 ? 0 : (n * 31 + s.charCodeAt(n - 1) + (s.charCodeAt(n >> 1) << 4)) & (HASHED - 1);
    if (s === this.hashed[h]) {
      const known = this.hashedIds[h];
      if (known >= 0) return known;
    }
    let id = this.interned.get(s);
    if (id === undefined) {
      this.interned.set(s, -1);
      return -1;
    }
    if (id < 0) {
      if (!s.isWellFormed()) return -1;
      id = this.intern(s);
      this.interned.set(s, id);
      if (id < 0) return -1;
    }
    const recent = this.recent;
    recent[k + 1] = recent[k];
    this.recentIds[k + 1] = this.recentIds[k];
    recent[k] = s;
    this.recentIds[k] = id;
    this.hashed[h] = s;
    this.hashedIds[h] = id;
    return id;
  }

  private writeId(id: number): void {
    this.ensure(5);
    const p = this.base + this.pos;
    this.bytes[p] = T_INTERNED;
    this.view.setUint32(p + 1, id, true);
    this.pos += 5;
  }


  private intern(s: string): number {
    const id = this.withText(s, (p, n) => this.x.intern(p, n));
    this.refresh();
    return id;
  }

  private forgetInterned(): void {
    this.x.intern_reset();
    this.interned.clear();
    this.recent.fill("");
    this.recentIds.fill(-1);
    this.hashed.fill("");
    this.hashedIds.fill(-1);
  }

  /**
   * Writes the agent: as an agent record (ABI.md §Values) when it is a plain
   * object of string `id`, string `trust_level` and string-array `tags`, so
   * its strings can be interned; otherwise as the JSON value it is, which the
   * engine checks and, when it is not an agent, reports.
   */
  writeAgent(agent: unknown): void {
    // A plain object (its constructor Object, no toJSON of its own making); anything else goes as JSON.
    const plain = agent !== null && typeof agent === "object" && (agent as { constructor?: unknown }).constructor === Object
      && typeof (agent as { toJSON?: unknown }).toJSON !== "function";
    if (!plain) {
      this.writeValue(jsonView(agent, ""), 64);
      return;
    }
    let fields = 0;
    let id = "";
    let trust = "";
    let tags: unknown;
    const a = agent as Record<string, unknown>;
    for (const key in a) {
      // Own members only, as JSON: a field lent by a prototype (Object.prototype.trust_level, say) is no field.
      // (Spelled out in full: V8 then folds the test away inside for-in, which it does not do through a const.)
      if (!Object.prototype.hasOwnProperty.call(a, key)) continue;
      const v = a[key];
      if (v === undefined) continue;
      if (key === "id" && typeof v === "string") {
        fields |= 1;
        id = v;
      } else if (key === "trust_level" && typeof v === "string") {
        fields |= 2;
        trust = v;
      } else if (key === "tags" && Array.isArray(v) && v.every((t) => typeof t === "string")) {
        fields |= 4;
        tags = v;
      } else {
        this.writeValue(agent, 64);
        return;
      }
    }
    this.ensure(2);
    this.bytes[this.base + this.pos] = T_AGENT;
    this.bytes[this.base + this.pos + 1] = fields;
    this.pos += 2;
    if (fields & 1) this.writeInternable(id, Site.AgentId);
    if (fields & 2) this.writeInternable(trust, Site.TrustLevel);
    if (fields & 4) this.writeValue(tags, 2);
  }

  writeString(s: string): void {
    this.ensure(5);
    const at = this.pos;
    this.bytes[this.base + at] = T_STRING;
    this.pos += 5;
    const n = this.writeUtf8(s);
    this.view.setUint32(this.base + at + 1, n, true);
  }

  /** UTF-8 at the write position; a lone surrogate makes the request invalid (it has no UTF-8 form). */
  private writeUtf8(s: string): number {
    const len = s.length;
    if (this.pos + len * 3 > this.cap) this.ensure(len * 3);
    const b = this.bytes;
    let p = this.base + this.pos;
    // ASCII, the common case, byte for byte.
    let i = 0;
    if (len <= 64) {
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p + i] = c;
      }
      if (i === len) {
        this.pos += len;
        return len;
      }
      p += i;
    }
    const start = this.base + this.pos;
    if (len > 64) {
      if (!s.isWellFormed()) throw new InvalidRequest("a string holds a lone surrogate, which is not Unicode text");
      const r = encoder.encodeInto(s, b.subarray(p, p + len * 3));
      this.pos += r.written;
      return r.written;
    }
    for (; i < len; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) b[p++] = c;
      else if (c < 0x800) {
        b[p++] = 0xc0 | (c >> 6);
        b[p++] = 0x80 | (c & 63);
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const d = c <= 0xdbff ? s.charCodeAt(i + 1) : 0;
        if (!(d >= 0xdc00 && d <= 0xdfff)) throw new InvalidRequest("a string holds a lone surrogate, which is not Unicode text");
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        b[p++] = 0xf0 | (c >> 18);
        b[p++] = 0x80 | ((c >> 12) & 63);
        b[p++] = 0x80 | ((c >> 6) & 63);
        b[p++] = 0x80 | (c & 63);
      } else {
        b[p++] = 0xe0 | (c >> 12);
        b[p++] = 0x80 | ((c >> 6) & 63);
        b[p++] = 0x80 | (c & 63);
      }
    }
    this.pos += p - start;
    return p - start;
  }

  /** Decides the record written since `beginRequest`; returns the decision record's address. */
  decide(explain: boolean): number {
    const r = explain ? this.x.explain(this.pos) : this.x.decide(this.pos);
    this.refresh();
    return r;
  }

  explanation(): string {
    return this.output();
  }

  // Reading the decision record (ABI.md §The decision record).
  u32(p: number): number {
    return this.view.getUint32(p, true);
  }

  i32(p: number): number {
    return this.view.getInt32(p, true);
  }

  utf8(p: number, n: number): string {
    return decoder.decode(this.bytes.subarray(p, p + n));
  }
}
