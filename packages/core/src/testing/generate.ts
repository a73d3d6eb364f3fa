// Random policy sets and request sequences for differential testing of
// warden.wasm against the reference model (reference.ts). Everything is drawn
// from small alphabets so that patterns match often, rules overlap and rate
// limits fill up; a fraction of the policy sets carry deliberately injected
// load errors, each with the JSON pointer its error must name.

import { KNOWN_BAD_ZONES, KNOWN_ZONES, pointerToken, timeFields, type Json, type RefAgent, type RefRequest } from "./reference.js";

// ---------------------------------------------------------------------------
// A small seeded PRNG (sfc32, seeded through splitmix32)

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.float();
  }

  /** A float in [0, 1). */
  float(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /** Picks by weight: [[weight, value], ...]. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let r = this.float() * total;
    for (const [w, v] of choices) {
      r -= w;
      if (r < 0) return v;
    }
    return choices[choices.length - 1][1];
  }

  subset<T>(xs: readonly T[], p: number): T[] {
    return xs.filter(() => this.chance(p));
  }
}

// ---------------------------------------------------------------------------
// The generated case

export interface InjectedError {
  policy: number;
  pointer: string;
  what: string;
}

export type Step =
  | { kind: "check"; request: RefRequest }
  /** loads another set into the same engine (§7: counts carry over by identity; a refused set changes nothing) */
  | { kind: "reload"; policies: unknown[]; injected: InjectedError[] };

export interface TextForm {
  /** path (policy index first) of an object member written twice, or null */
  duplicate: Array<string | number> | null;
  /** seeds the spelling of integers (`2`, `2.0`, `2e0`, `20E-1`) */
  seed: number;
}

export interface GeneratedCase {
  policies: unknown[];
  /** When set, the set is loaded as JSON text written by `toJsonText`. */
  text?: TextForm;
  /** Errors put in on purpose; empty for a set that must load. */
  injected: InjectedError[];
  steps: Step[];
}

// ---------------------------------------------------------------------------
// Alphabets

const ACTIONS = ["tool.call", "tool/lookup_order", "a", "ab", "a/b", "é", "😀", "*", "?", "a😀b", "x\\y", "b", "éa", "tool/issue_refund", "", "e\u0301"];
const RESOURCES = ["tool/lookup_order", "tool/issue_refund", "a", "ab", "a/b", "é", "😀", "*", "?", "", "a😀b", "b/\\", "ééé"];
const AGENT_IDS = ["bot-1", "bot-2", "support-bot", "dev-1", "", "é😀"];
const TAGS = ["customer-service", "eu", "vip", ""];
const TRUST_SETS: Array<string[] | undefined> = [undefined, undefined, ["intern", "staff", "lead"], ["basic", "elevated", "admin"], ["admin", "basic"], ["low", "é"]];
const ALL_LEVELS = ["basic", "elevated", "admin", "intern", "staff", "lead", "low", "é", "root"];
const POLICY_NAMES = ["p", "q", "cs", "guard", "", "é"];
const PERIODS = ["1s", "2s", "30s", "90s", "1m", "5m", "1h", "2h", "1d", "3600s", "7d"];
const PERIOD_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SCOPES = [undefined, "agent", "global", "context.u", "context.n", "context.user", "context.user.id", "context.s", "context.a"];

/** Numbers whose decimal text or parsing is easy to get wrong (shortest round-trip, exponents, subnormals, 2^53). */
const TRICKY_NUMBERS = [
  1e-7, 0.000001, 1e20, 1e23, 123456789012345680000, 5e-324, 1.7976931348623157e308, 2 ** 53, 2 ** 53 + 2, 0.1 + 0.2,
  1 / 3, -1.5e-10, 4.35, 1e100, 12345.6789, -0.0001, 2.225073858507201e-308, 100, 1.0000000000000002, 8.41e21, 0.5,
];

const SCALARS: Json[] = [
  -0, 0, 0.1, 1e21, 50, 1, 2, 1000, -1, 1.5, "50", "1", "gold", "silver-plus", "", "é", "😀", "abc", "a*", "true", "null",
  "\\", "it's", true, false, null, "tool/lookup_order", "bot-1", "b", "a", "\uffff", "\ue000", "A", "gold\u0000",
];

function scalar(rng: Rng): Json {
  return rng.chance(0.15) ? rng.pick(TRICKY_NUMBERS) : rng.pick(SCALARS);
}
const COMPOUNDS: Json[] = [
  [], [1, "a", null], ["gold", "x"], ["b"], ["a"], [50, "50"], { tier: "gold" }, { first: "a" }, { a: 1, b: [2] }, [["a"], "b"], [true, 0.1],
  [{ tier: "gold" }], [-0],
];

const CONTEXT_KEYS = ["a", "b", "n", "s", "flag", "tier", "user", "items", "in", "null", "x-y", "1", "amount", "u", "user.tier"];
const OBJECT_KEYS = [...CONTEXT_KEYS, "user.tier", "user.id", "user.region.code", "items.first", "missing"];
const CONTEXT_PATHS = [
  "context.a", "context.b", "context.n", "context.s", "context.flag", "context.tier", "context.user.tier", "context.user.id",
  "context.items", "context.items.first", "context.in", "context.null", "context.amount", "context.u", "context.missing", "context.user",
];
const OTHER_PATHS = ["agent.id", "agent.trust_level", "agent.tags", "request.action", "request.resource"];
const TIME_RANGES: Record<string, [number, number]> = {
  year: [2024, 2027], month: [1, 12], day: [1, 31], hour: [0, 23], minute: [0, 59], weekday: [1, 7],
};

/** Interesting instants (DST changes, midnights, the epoch), in epoch milliseconds. */
const BASE_TIMES = [
  "2026-03-05T10:00:00Z", "2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z", "2026-03-08T06:59:30Z", "2026-11-01T05:59:00Z",
  "2026-10-25T00:59:00Z", "2025-12-31T23:59:30Z", "2026-02-28T18:29:00Z", "2026-07-05T13:30:00Z", "1969-12-31T23:59:59Z",
  "2026-04-04T14:45:00Z", "2028-02-29T12:00:00Z", "0001-03-01T00:30:00Z", "9999-06-01T23:30:00Z", "0000-06-15T12:00:00Z", "1900-03-01T00:00:00Z",
  "1600-02-29T23:59:00Z", "2100-02-28T23:59:59Z", "1970-01-01T00:00:00Z",
].map((s) => Date.parse(s));

const BAD_TIMES = [
  "2026-03-05t10:00:00z", "2026-03-05T10:00Z", "2026-02-30T10:00:00Z", "2026-03-05T24:00:00Z", "2026-03-05 10:00:00Z",
  "2026-13-01T00:00:00Z", "2026-03-05T10:00:00+0100", "2026-03-05T10:00:00.Z", "2026-03-05T10:00:00",
];

// ---------------------------------------------------------------------------
// Patterns

const cps = (s: string): string[] => Array.from(s);

/** A valid pattern built by mutating a string: wildcards put in, characters escaped. */
export function mutatePattern(rng: Rng, s: string): string {
  if (rng.chance(0.1)) return rng.pick(["*", "**", "?", "*?", "?*?", "*\\*"]);
  let out = "";
  if (rng.chance(0.1)) out += "*";
  for (const c of cps(s)) {
    const r = rng.float();
    if (r < 0.1) out += "?";
    else if (r < 0.18) out += "*";
    else {
      if (r < 0.26) out += "*";
      if (c === "*" || c === "?" || c === "\\") out += rng.chance(0.8) || c === "\\" ? `\\${c}` : c;
      else out += rng.chance(0.07) ? `\\${c}` : c;
    }
  }
  if (rng.chance(0.12)) out += "*";
  if (out === "") out = rng.pick(["*", "**", "?*"]);
  return out;
}

function patternField(rng: Rng, pool: readonly string[]): string | string[] {
  if (rng.chance(0.2)) return Array.from({ length: rng.range(1, 3) }, () => mutatePattern(rng, rng.pick(pool)));
  return mutatePattern(rng, rng.pick(pool));
}

// ---------------------------------------------------------------------------
// Values

function value(rng: Rng): Json {
  return rng.chance(0.8) ? scalar(rng) : structuredClone(rng.pick(COMPOUNDS));
}

/**
 * Values the policies of a case compare context paths with (keyed by the path after `context.`), so
 * that requests often carry exactly them, or their neighbours (-0 for 0, the number for its text).
 */
export class Hints {
  readonly byPath = new Map<string, Json[]>();

  add(path: string, v: Json): void {
    const list = this.byPath.get(path) ?? [];
    const push = (x: Json): void => {
      if (!list.some((y) => Object.is(y, x) || (typeof x === "object" && JSON.stringify(x) === JSON.stringify(y)))) list.push(x);
    };
    const number = (n: number): void => {
      push(n);
      push(String(n));
      if (n === 0) push(Object.is(n, -0) ? 0 : -0);
    };
    if (typeof v === "number") number(v);
    else push(v);
    if (typeof v === "string") {
      // a glob's literal reading, a number when the text is one, and neighbours that sort
      // differently by code points than by UTF-16 units
      const plain = v.replace(/\\(.)/gu, "$1").replace(/\*/g, "").replace(/\?/g, "x");
      push(plain);
      if (/^-?[0-9]+(\.[0-9]+)?(e[+-][0-9]+)?$/.test(plain) && Number.isFinite(Number(plain))) number(Number(plain));
      push(`😀${plain}`);
      push(`\ue000${plain}`);
    }
    this.byPath.set(path, list);
  }

  /** Hints from an object-form condition value. */
  addCondition(path: string, c: Json): void {
    if (Array.isArray(c)) c.forEach((e) => this.add(path, e));
    else if (c !== null && typeof c === "object") {
      for (const [op, arg] of Object.entries(c)) {
        if (op === "in" || op === "not_in") (Array.isArray(arg) ? arg : []).forEach((e) => this.add(path, e));
        else if (op === "exists") this.add(path, null);
        else if (typeof arg === "number" && op !== "eq" && op !== "ne") [arg, arg + 1, arg - 1].forEach((x) => this.add(path, x));
        else this.add(path, arg);
      }
    } else this.add(path, c);
  }
}

function context(rng: Rng, hints: Hints): { [k: string]: Json } {
  const ctx: { [k: string]: Json } = {};
  for (const k of rng.subset(CONTEXT_KEYS, 0.25)) {
    if (k === "user" && rng.chance(0.7)) {
      const user: { [k: string]: Json } = {};
      if (rng.chance(0.7)) user.tier = rng.pick(["gold", "silver", 1]);
      if (rng.chance(0.6)) user.id = rng.pick([1, "1", "bot-1", null, -0, 0, true, "true"]);
      if (rng.chance(0.4)) user.region = rng.chance(0.7) ? { code: rng.pick(["EU-west", "US"]) } : "EU-west";
      ctx.user = user;
    } else if (k === "items" && rng.chance(0.6)) {
      ctx.items = rng.chance(0.5) ? { first: rng.pick(["a", "b", 1]) } : ["a", rng.pick(["b", 1, null])];
    } else ctx[k] = value(rng);
  }
  for (const [path, values] of hints.byPath) {
    if (!rng.chance(0.45)) continue;
    // set the hinted value at its (perhaps nested) path
    const segs = path.split(".");
    let o = ctx;
    for (const seg of segs.slice(0, -1)) {
      const next = o[seg];
      if (next === null || typeof next !== "object" || Array.isArray(next)) o[seg] = {};
      o = o[seg] as { [k: string]: Json };
    }
    o[segs[segs.length - 1]] = structuredClone(rng.pick(values));
  }
  return ctx;
}

function agent(rng: Rng): RefAgent | null | undefined {
  return rng.weighted<() => RefAgent | null | undefined>([
    [2, () => undefined],
    [1, () => null],
    [1, () => ({})],
    [3, () => ({ id: rng.pick(AGENT_IDS) })],
    [4, () => ({ id: rng.pick(AGENT_IDS), trust_level: rng.pick(ALL_LEVELS) })],
    [4, () => {
      const a: RefAgent = {};
      if (rng.chance(0.8)) a.id = rng.pick(AGENT_IDS);
      if (rng.chance(0.7)) a.trust_level = rng.pick(ALL_LEVELS);
      a.tags = rng.subset(TAGS, 0.4);
      return a;
    }],
  ])();
}

// ---------------------------------------------------------------------------
// Expressions, rendered as text with random spelling, case and spacing

type Tk = { k: "word" | "num" | "str" | "sym"; s: string };

function keyword(rng: Rng, kw: string): Tk {
  const s = rng.weighted<string>([[5, kw.toUpperCase()], [4, kw.toLowerCase()], [1, cps(kw).map((c) => (rng.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join("")]]);
  return { k: "word", s };
}

const NUMBER_SPELLINGS = new Map<number, string[]>([
  [50, ["50", "50.0", "5e1", "5E+1", "0050", "500e-1"]],
  [0, ["0", "0.0", "0e5"]],
  [1, ["1", "1.0", "1e0", "10E-1"]],
  [2, ["2", "2.00"]],
  [0.1, ["0.1", "1e-1"]],
  [1e21, ["1e21", "1E+21", "1000000000000000000000"]],
  [1000, ["1000", "1e3", "1000.0"]],
  [-1, ["-1", "-1.0", "-1e0"]],
  [1.5, ["1.5", "15e-1"]],
  [1e23, ["1e23", "100000000000000000000000", "1E23", "0.1e24", "10e22"]],
  [2 ** 53, ["9007199254740992", "9007199254740993", "9.007199254740992e15"]],
  [5e-324, ["5e-324", "4.9e-324", "4.9406564584124654e-324"]],
  [0.1 + 0.2, ["0.30000000000000004", "0.300000000000000044408920985006"]],
  [2.225073858507201e-308, ["2.225073858507201e-308", "2.2250738585072011e-308"]],
  [1.7976931348623157e308, ["1.7976931348623157e308", "1.7976931348623158e+308"]],
  [1e-7, ["1e-7", "0.0000001", "1E-07"]],
  [123456789012345680000, ["123456789012345680000", "123456789012345678901"]],
  [1.0000000000000002, ["1.0000000000000002", "1.00000000000000022"]],
]);

function numberToken(rng: Rng, n: number): Tk {
  if (Object.is(n, -0)) return { k: "num", s: rng.pick(["-0", "-0.0"]) };
  const spellings = NUMBER_SPELLINGS.get(n);
  return { k: "num", s: spellings ? rng.pick(spellings) : String(n) };
}

function stringToken(rng: Rng, s: string): Tk {
  const q = rng.chance(0.6) ? "'" : '"';
  let out = q;
  for (const c of cps(s)) {
    if (c === q || c === "\\") out += `\\${c}`;
    else if (rng.chance(0.05)) out += `\\${c}`;
    else out += c;
  }
  return { k: "str", s: out + q };
}

function literalTokens(rng: Rng, v: Json): Tk[] {
  if (v === null) return [keyword(rng, "null")];
  if (typeof v === "boolean") return [keyword(rng, String(v))];
  if (typeof v === "number") return [numberToken(rng, v)];
  if (typeof v === "string") return [stringToken(rng, v)];
  if (Array.isArray(v)) return listTokens(rng, v.map((e) => literalTokens(rng, e)));
  throw new Error("an object has no literal");
}

function listTokens(rng: Rng, items: Tk[][]): Tk[] {
  const out: Tk[] = [{ k: "sym", s: "[" }];
  items.forEach((it, i) => {
    if (i > 0) out.push({ k: "sym", s: "," });
    out.push(...it);
  });
  out.push({ k: "sym", s: "]" });
  return out;
}

/** A scalar or a list of scalars (objects have no literal in expressions). */
function exprLiteral(rng: Rng): Json {
  if (rng.chance(0.85)) return scalar(rng);
  return rng.pick<Json>([[], [1, "a", null], ["gold", "x"], ["b"], [50, "50"], [["a"]]]);
}

class ExprGen {
  /** the time zone of the policy being generated, so that time literals can sit right at the base time's fields */
  zone = "UTC";

  constructor(private readonly rng: Rng, private readonly baseEpoch: number, readonly hints: Hints) {}

  path(): string {
    return this.rng.weighted<() => string>([
      [8, () => this.rng.pick(CONTEXT_PATHS)],
      [3, () => this.rng.pick(OTHER_PATHS)],
      [2, () => `time.${this.rng.pick([...Object.keys(TIME_RANGES), "epoch"])}`],
    ])();
  }

  /** A literal that fits what the path may hold, often. */
  literalFor(path: string): Json {
    const rng = this.rng;
    if (path.startsWith("time.")) {
      const f = path.slice(5);
      if (f === "epoch") return this.baseEpoch + rng.pick([0, 0, -1, 1, rng.range(-4000, 4000)]);
      if (rng.chance(0.5)) {
        // the field at the base time, read in the policy's zone, or one off
        return timeFields(BigInt(this.baseEpoch) * 1_000_000_000n, this.zone)[f] + rng.pick([0, 0, -1, 1]);
      }
      const [lo, hi] = TIME_RANGES[f];
      return rng.chance(0.9) ? rng.range(lo, hi) : rng.pick<Json>(["9", null, 9.5]);
    }
    if (path === "agent.id") return rng.chance(0.8) ? rng.pick(AGENT_IDS) : exprLiteral(rng);
    if (path === "agent.trust_level") return rng.chance(0.8) ? rng.pick(ALL_LEVELS) : exprLiteral(rng);
    if (path === "request.action") return rng.chance(0.8) ? rng.pick(ACTIONS) : exprLiteral(rng);
    if (path === "request.resource") return rng.chance(0.8) ? rng.pick(RESOURCES) : exprLiteral(rng);
    return exprLiteral(rng);
  }

  /** A literal for a comparison with `path`, remembered as a hint when the path reads the context. */
  hinted(path: string): Json {
    const v = this.literalFor(path);
    if (path.startsWith("context.")) this.hints.add(path.slice(8), v);
    return v;
  }

  /** A list operand: literals, sometimes paths, sometimes a nested list; never a parenthesised expression. */
  list(path: string): Tk[] {
    const n = this.rng.weighted([[1, 0], [4, 1], [4, 2], [2, 3]] as const);
    const items: Tk[][] = [];
    for (let i = 0; i < n; i++) {
      const r = this.rng.float();
      if (r < 0.2) items.push([{ k: "word", s: this.path() }]);
      else if (r < 0.25) items.push(this.list(path));
      else items.push(literalTokens(this.rng, this.hinted(path)));
    }
    return listTokens(this.rng, items);
  }

  paren(depth: number): Tk[] {
    return [{ k: "sym", s: "(" }, ...this.expr(depth), { k: "sym", s: ")" }];
  }

  compare(depth: number): Tk[] {
    const rng = this.rng;
    const op = rng.weighted<string>([[6, "=="], [3, "!="], [2, "<"], [2, "<="], [2, ">"], [2, ">="], [3, "IN"], [2, "NOT IN"], [3, "MATCHES"]]);
    const path = this.path();
    const opTokens = (): Tk[] => op === "NOT IN" ? [keyword(rng, "not"), keyword(rng, "in")]
      : op === "IN" || op === "MATCHES" ? [keyword(rng, op)] : [{ k: "sym", s: op }];
    let left: Tk[] = [{ k: "word", s: path }];
    let right: Tk[];
    switch (op) {
      case "IN":
      case "NOT IN":
        if (rng.chance(0.15)) {
          // a literal on the left, a path (perhaps an array) on the right
          left = literalTokens(rng, rng.pick<Json>(["b", "vip", "a", 1, "gold", null]));
          right = [{ k: "word", s: rng.pick(["agent.tags", "context.items", "context.s", "context.a", "context.missing"]) }];
        } else right = rng.chance(0.85) ? this.list(path) : [{ k: "word", s: this.path() }];
        break;
      case "MATCHES":
        right = rng.chance(0.8)
          ? literalTokens(rng, mutatePatternOrEmpty(rng, String(this.hinted(path))))
          : [{ k: "word", s: this.path() }];
        break;
      default:
        if (depth > 0 && rng.chance(0.08)) {
          // a parenthesised expression as an operand
          left = this.paren(depth - 1);
          right = literalTokens(rng, rng.pick<Json>([true, false, true, null, 1]));
        } else if (rng.chance(0.2)) right = [{ k: "word", s: this.path() }];
        else if ((op === "==" || op === "!=") && rng.chance(0.08)) right = this.list(path);
        else right = literalTokens(rng, this.hinted(path));
        if (rng.chance(0.1)) [left, right] = [right, left];
    }
    return [...left, ...opTokens(), ...right];
  }

  bare(depth: number): Tk[] {
    return this.rng.weighted<() => Tk[]>([
      [5, () => [{ k: "word", s: this.rng.pick(["context.flag", "context.a", "context.missing", "agent.tags", "context.s"]) }]],
      [2, () => literalTokens(this.rng, this.rng.pick<Json>([true, false, null, 5, "x", []]))],
      [depth > 0 ? 2 : 0, () => this.paren(depth - 1)],
    ])();
  }

  /** `prec`: 0 or, 1 and, 2 not/compare: the tokens of an expression that binds at least that tightly. */
  expr(depth: number, prec = 0): Tk[] {
    const rng = this.rng;
    const r = rng.float();
    let tokens: Tk[];
    let own: number;
    if (depth > 0 && r < 0.3) {
      const isOr = rng.chance(0.5);
      own = isOr ? 0 : 1;
      const n = rng.range(2, 3);
      tokens = [];
      for (let i = 0; i < n; i++) {
        if (i > 0) tokens.push(isOr ? (rng.chance(0.7) ? keyword(rng, "or") : { k: "sym", s: "||" }) : (rng.chance(0.7) ? keyword(rng, "and") : { k: "sym", s: "&&" }));
        tokens.push(...this.expr(depth - 1, own + 1));
      }
    } else if (depth > 0 && r < 0.42) {
      own = 2;
      tokens = [rng.chance(0.6) ? keyword(rng, "not") : { k: "sym", s: "!" }, ...this.expr(depth - 1, 2)];
    } else {
      own = 2;
      tokens = rng.chance(0.85) ? this.compare(depth) : this.bare(depth);
    }
    if (own < prec || rng.chance(0.06)) tokens = [{ k: "sym", s: "(" }, ...tokens, { k: "sym", s: ")" }];
    return tokens;
  }
}

function mutatePatternOrEmpty(rng: Rng, s: string): string {
  if (rng.chance(0.08)) return "";
  if (rng.chance(0.3)) return s.replace(/\\/g, "\\\\");
  return mutatePattern(rng, s);
}

/** Whether two tokens written side by side would lex differently. */
function needSpace(a: Tk, b: Tk): boolean {
  const wordy = /[A-Za-z0-9_]/;
  if (!wordy.test(a.s[a.s.length - 1]) || !wordy.test(b.s[0])) return false;
  if (a.k === "num" && b.k === "word" && !/^[eE]/.test(b.s)) return false; // `1and` lexes as 1, and
  return true;
}

function render(rng: Rng, tokens: Tk[]): string {
  const tight = rng.chance(0.2);
  let out = "";
  tokens.forEach((t, i) => {
    if (i > 0) {
      const need = needSpace(tokens[i - 1], t);
      if (need) out += rng.chance(0.9) ? " " : rng.pick(["  ", "\t", "\n"]);
      else if (!tight) out += rng.chance(0.9) ? " " : rng.pick(["", "  ", "\t"]);
    }
    out += t.s;
  });
  if (rng.chance(0.05)) out = ` ${out} `;
  return out;
}

// ---------------------------------------------------------------------------
// Object-form conditions

function objectCondition(rng: Rng): Json {
  return rng.weighted<() => Json>([
    [4, () => rng.chance(0.85) ? mutatePatternOrEmpty(rng, textOf(scalar(rng))) : rng.pick(["", "*", "5*", "1e+21", "0", "tr*e"])],
    [3, () => rng.chance(0.3) ? rng.pick(TRICKY_NUMBERS) : rng.pick<Json>([-0, 0, 0.1, 1e21, 50, 1, true, false, null])],
    [2, () => Array.from({ length: rng.range(0, 3) }, () => rng.chance(0.6) ? mutatePatternOrEmpty(rng, textOf(scalar(rng))) : rng.pick<Json>([50, 1, -0, true, null]))],
    [5, () => {
      const ops: { [k: string]: Json } = {};
      const names = rng.subset(["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "glob", "exists"], 0.2);
      if (names.length === 0) names.push(rng.pick(["eq", "gt", "lte", "in", "glob", "exists"]));
      for (const op of names) {
        switch (op) {
          case "eq": case "ne": ops[op] = value(rng); break;
          case "lt": case "lte": case "gt": case "gte": ops[op] = rng.chance(0.2) ? rng.pick(TRICKY_NUMBERS) : rng.pick<Json>([0, 1, 2, 50, 1000, -1, 0.1, "b", "gold", "", "😀", "\uffff", "\ue000"]); break;
          case "in": case "not_in": ops[op] = Array.from({ length: rng.range(0, 3) }, () => value(rng)); break;
          case "glob": ops[op] = mutatePatternOrEmpty(rng, textOf(scalar(rng))); break;
          case "exists": ops[op] = rng.chance(0.5); break;
        }
      }
      return ops;
    }],
  ])();
}

function textOf(v: Json): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

// ---------------------------------------------------------------------------
// Policies

function conditions(rng: Rng, eg: ExprGen): Json | undefined {
  const hints = eg.hints;
  return rng.weighted<() => Json | undefined>([
    [25, () => undefined],
    [30, () => {
      const c: { [k: string]: Json } = {};
      for (let i = rng.range(1, 3); i > 0; i--) {
        const key = rng.pick(OBJECT_KEYS);
        c[key] = objectCondition(rng);
        hints.addCondition(key, c[key]);
      }
      return c;
    }],
    [25, () => render(rng, eg.expr(rng.range(0, 3)))],
    [15, () => Array.from({ length: rng.range(1, 3) }, () => render(rng, eg.expr(rng.range(0, 2))))],
    [3, () => rng.pick<Json>([{}, []])],
  ])();
}

/** What the rules of one generated set draw on: small pools of strings, so that rules overlap and requests match. */
interface Pools {
  actions: string[];
  resources: string[];
  rules: Array<{ [k: string]: Json }>;
}

function rule(rng: Rng, eg: ExprGen, levels: string[], pools: Pools): { [k: string]: Json } {
  const r: { [k: string]: Json } = {
    effect: rng.weighted([[45, "allow"], [35, "deny"], [20, "escalate"]] as const),
    action: patternField(rng, rng.chance(0.85) ? pools.actions : ACTIONS),
  };
  if (rng.chance(0.65)) r.resource = patternField(rng, rng.chance(0.85) ? pools.resources : RESOURCES);
  const c = conditions(rng, eg);
  if (c !== undefined) r.conditions = c;
  if (rng.chance(0.2)) r.trust_level = rng.pick(levels);
  if (pools.rules.length > 0 && rng.chance(0.35)) {
    // overlap an earlier rule: the same patterns, perhaps the same conditions, so that precedence decides
    const prev = rng.pick(pools.rules);
    r.action = structuredClone(prev.action);
    if ("resource" in prev) r.resource = structuredClone(prev.resource);
    else delete r.resource;
    if (rng.chance(0.5)) {
      if ("conditions" in prev) r.conditions = structuredClone(prev.conditions);
      else delete r.conditions;
      if ("trust_level" in prev && levels.includes(prev.trust_level as string)) r.trust_level = prev.trust_level;
      else delete r.trust_level;
    }
  }
  pools.rules.push(r);
  if (rng.chance(0.2)) r.name = rng.pick(["r", "auto", "guard", "é"]);
  if (rng.chance(0.25)) r.reason = rng.pick(["because", "Refunds over $500 need a person", "é😀", ""]);
  if (rng.chance(0.05)) r.log = rng.chance(0.5);
  if (rng.chance(0.05)) r.alert = rng.chance(0.5);
  if (rng.chance(0.05)) r.log_context = rng.subset(["a", "user.tier", "x-y"], 0.5);
  // shuffle member order now and then: it must not matter
  return rng.chance(0.2) ? Object.fromEntries(Object.entries(r).reverse()) : r;
}

function rateLimit(rng: Rng, pools: Pools, hints: Hints): { [k: string]: Json } {
  const l: { [k: string]: Json } = {
    action: patternField(rng, rng.chance(0.85) ? pools.actions : ACTIONS),
    limit: rng.weighted([[4, 1], [3, 2], [2, 3]] as const),
    period: rng.pick(PERIODS),
  };
  if (rng.chance(0.4)) l.resource = patternField(rng, rng.chance(0.85) ? pools.resources : RESOURCES);
  const scope = rng.pick(SCOPES);
  if (scope !== undefined) l.scope = scope;
  if (scope?.startsWith("context.")) {
    // values whose JSON texts are close: 1 and "1", null and "null", -0 and 0
    for (const v of [-0, 0, 1, "1", null, "null", true, "true", 0.1, 1e21, "a", ""]) hints.add(scope.slice(8), v);
  }
  if (rng.chance(0.4)) l.reason = rng.pick(["slow down", "Refund rate limit exceeded", "é"]);
  return l;
}

function policy(rng: Rng, eg: ExprGen, pools: Pools): { [k: string]: Json } {
  const p: { [k: string]: Json } = {};
  if (rng.chance(0.5)) p.name = rng.pick(POLICY_NAMES);
  if (rng.chance(0.05)) p.description = "free text";
  if (rng.chance(0.05)) p.version = rng.pick([1, 2, 10, 0, -3]);
  if (rng.chance(0.25)) p.default_effect = rng.pick(["allow", "deny"]);
  if (rng.chance(0.2)) {
    const am: { [k: string]: Json } = {};
    const which = rng.int(3);
    if (which !== 1) am.ids = Array.from({ length: rng.range(0, 2) }, () => mutatePattern(rng, rng.pick(AGENT_IDS)));
    if (which !== 0) am.tags = rng.subset(TAGS, 0.4);
    p.agent_match = am;
  }
  if (rng.chance(0.4)) p.timezone = rng.pick(KNOWN_ZONES);
  eg.zone = typeof p.timezone === "string" ? p.timezone : "UTC";
  const levels = rng.pick(TRUST_SETS);
  if (levels) p.trust_levels = levels;
  p.rules = Array.from({ length: rng.weighted([[1, 0], [3, 1], [5, 2], [5, 3], [3, 4], [2, 6]] as const) }, () => rule(rng, eg, levels ?? ["basic", "elevated", "admin"], pools));
  if (rng.chance(0.4)) p.rate_limits = Array.from({ length: rng.range(1, 2) }, () => rateLimit(rng, pools, eg.hints));
  if (rng.chance(0.05)) p.audit = rng.pick<Json>([{ log_allowed: rng.chance(0.5), redact: ["user.id"] }, {}, { log_denied: false, redact: [] }]);
  if (!("rate_limits" in p) && rng.chance(0.03)) p.rate_limits = [];
  return p;
}

// ---------------------------------------------------------------------------
// Deliberate load errors: each a mutation of a valid set and the pointer its error must name

type Obj = { [k: string]: Json };

const BAD_EXPRESSIONS = [
  "context.amount <== 5", "(context.a == 1", "ctx.a == 1", "agent.name == 'x'", "time.second > 1", "context == 1",
  "context.a MATCHES 'ab\\\\'", "context.a ==", "== 1", "context.a = 1", "'unterminated", "context.a IN", "1 2", "",
  "context.a-b == 1", "context..a == 1", "context.a == 1 AND", "NOT", "[1,", "context.a && || context.b", "request.foo == 1",
  "agent.id.x == 1", "time.hour.x > 1", "context.a == context.b == context.c", "context.a == NOT context.b",
  "context.a NOT MATCHES 'x'", "Context.a == 1", "context.a == 1)", "[1, ]", "context.a in [1 2]", "context.a & context.b",
  "context.a == .5", "context.a == 'x' 'y'", "time == 1", "agent == 1", "request.action.x == 'a'", "context.a ==  1.",
  "context.é == 1", "not in [1]", "context.a MATCHES '\\\\'", "()",
];

function ruleAt(p: Obj, rng: Rng): { rule: Obj; index: number } | null {
  const rules = p.rules as Json[];
  if (!Array.isArray(rules) || rules.length === 0) return null;
  const index = rng.int(rules.length);
  const rule = rules[index];
  return rule !== null && typeof rule === "object" && !Array.isArray(rule) ? { rule, index } : null;
}

/** Puts one error into policy `pi` of the set; returns the pointer it must be reported at, or null when it could not. */
function inject(rng: Rng, policies: unknown[], pi: number): InjectedError | null {
  const p = policies[pi] as Obj;
  const err = (pointer: string, what: string): InjectedError => ({ policy: pi, pointer, what });
  const kinds: Array<() => InjectedError | null> = [
    () => {
      const k = rng.pick(["rule", "conditions", "a/b~c", "Name", "default-effect"]);
      p[k] = 1;
      return err(`/${pointerToken(k)}`, "unknown policy field");
    },
    () => {
      p.default_effect = rng.pick(["maybe", "Allow", "escalate", "", 1]);
      return err("/default_effect", "bad default effect");
    },
    () => {
      p.timezone = rng.pick([...KNOWN_BAD_ZONES, 5 as unknown as string]);
      return err("/timezone", "bad time zone");
    },
    () => {
      p.version = rng.pick<Json>(["2", 1.5, true]);
      return err("/version", "version not an integer");
    },
    () => {
      const k = rng.pick(["name", "description"]);
      p[k] = rng.pick<Json>([5, false, ["x"]]);
      return err(`/${k}`, `${k} not a string`);
    },
    () => {
      const t = rng.pick<[Json, string]>([[[], "/trust_levels"], ["basic", "/trust_levels"], [["a", "a"], "/trust_levels/1"], [["a", ""], "/trust_levels/1"], [[1, "b"], "/trust_levels/0"], [["x", "y", "x"], "/trust_levels/2"]]);
      p.trust_levels = t[0];
      // the rules' trust requirements cannot be judged against a broken list: take them out
      for (const r of (Array.isArray(p.rules) ? p.rules : []) as Obj[]) delete r.trust_level;
      return err(t[1], "bad trust_levels");
    },
    () => {
      if (rng.chance(0.5)) delete p.rules;
      else p.rules = rng.pick<Json>([{ effect: "allow" }, "x", 1]);
      return err("/rules", "rules missing or not an array");
    },
    () => {
      p.rate_limits = rng.pick<Json>([{ action: "a" }, "x"]);
      return err("/rate_limits", "rate_limits not an array");
    },
    () => {
      const t = rng.pick<[Json, string]>([
        [{}, "/agent_match"], [{ ids: ["ok", "bad\\"] }, "/agent_match/ids/1"], [{ ids: [""] }, "/agent_match/ids/0"],
        [{ ids: ["bot-*"], team: "x" }, "/agent_match/team"], [{ ids: "bot-*" }, "/agent_match/ids"], [{ tags: [1] }, "/agent_match/tags/0"],
        ["bot-*", "/agent_match"], [{ tags: "vip" }, "/agent_match/tags"],
      ]);
      p.agent_match = t[0];
      return err(t[1], "bad agent_match");
    },
    () => {
      const t = rng.pick<[Json, string]>([
        [{ redact_all: true }, "/audit/redact_all"], [{ log_allowed: "yes" }, "/audit/log_allowed"],
        [{ redact: ["user.email", "user..ssn"] }, "/audit/redact/1"], [{ redact: "a" }, "/audit/redact"], [[], "/audit"],
      ]);
      p.audit = t[0];
      return err(t[1], "bad audit");
    },
    () => {
      const rules = p.rules as Json[];
      if (!Array.isArray(rules)) return null;
      const index = rng.int(rules.length + 1);
      rules.splice(index, 0, rng.pick<Json>([["allow"], "allow", 1, null]));
      return err(`/rules/${index}`, "rule not an object");
    },
    // rule-level
    ...ruleInjections(rng, p, pi),
    // rate-limit level
    () => {
      const limits = (p.rate_limits ??= []) as Obj[];
      const index = rng.int(limits.length + 1);
      const l: Obj = { action: "a", limit: 1, period: "1h" };
      limits.splice(index, 0, l);
      const at = `/rate_limits/${index}`;
      const t = rng.pick<() => string>([
        () => { delete l.action; return `${at}/action`; },
        () => { l.action = rng.pick<Json>(["", [], "x\\", 5]); return `${at}/action`; },
        () => { l.action = ["a", ""]; return `${at}/action/1`; },
        () => { l.resource = rng.pick<Json>(["", [], "x\\"]); return `${at}/resource`; },
        () => { l.limit = rng.pick<Json>([0, -1, 1.5, "1"]); return `${at}/limit`; },
        () => { delete l.limit; return `${at}/limit`; },
        () => { l.period = rng.pick<Json>(["1 fortnight", "0s", "1H", "1.5h", "h", "10", 60, "", "1w", " 1h", "-1h"]); return `${at}/period`; },
        () => { delete l.period; return `${at}/period`; },
        () => { l.scope = rng.pick<Json>(["planet", "context.", "context", "context.a..b", "Agent", 5, "context.a b", "agent.id"]); return `${at}/scope`; },
        () => { l.reason = 5; return `${at}/reason`; },
        () => { l.per = "1h"; return `${at}/per`; },
      ])();
      return err(t, "bad rate limit");
    },
    () => {
      const limits = (p.rate_limits ??= []) as Json[];
      const index = rng.int(limits.length + 1);
      limits.splice(index, 0, rng.pick<Json>(["a", 1, null, []]));
      return err(`/rate_limits/${index}`, "rate limit not an object");
    },
  ];
  return rng.pick(kinds)();
}

function ruleInjections(rng: Rng, p: Obj, pi: number): Array<() => InjectedError | null> {
  const err = (pointer: string, what: string): InjectedError => ({ policy: pi, pointer, what });
  const withRule = (f: (r: Obj, at: string) => string | null, what: string) => (): InjectedError | null => {
    const found = ruleAt(p, rng);
    if (!found) return null;
    const ptr = f(found.rule, `/rules/${found.index}`);
    return ptr === null ? null : err(ptr, what);
  };
  return [
    withRule((r, at) => { r.effect = rng.pick<Json>(["permit", "Escalate", "ALLOW", "", 1, null]); return `${at}/effect`; }, "bad effect"),
    withRule((r, at) => { delete r.effect; return `${at}/effect`; }, "missing effect"),
    withRule((r, at) => { delete r.action; return `${at}/action`; }, "missing action"),
    withRule((r, at) => { r.action = rng.pick<Json>(["", [], "x\\", 7, "a\\b\\"]); return `${at}/action`; }, "bad action"),
    withRule((r, at) => { r.action = ["a", rng.pick<Json>(["", "b\\", 3])]; return `${at}/action/1`; }, "bad action element"),
    withRule((r, at) => { r.resource = rng.pick<Json>(["", [], "x\\", null]); return `${at}/resource`; }, "bad resource"),
    withRule((r, at) => { r.resource = ["*", rng.pick<Json>(["", "b\\", false])]; return `${at}/resource/1`; }, "bad resource element"),
    withRule((r, at) => { const k = rng.pick(["conditon", "a/b~c", "Effect", "priority"]); r[k] = 1; return `${at}/${pointerToken(k)}`; }, "unknown rule field"),
    withRule((r, at) => { r.trust_level = rng.pick<Json>(["root", "Admin", 5, ""]); return `${at}/trust_level`; }, "unknown trust level"),
    withRule((r, at) => { const k = rng.pick(["name", "reason"]); r[k] = 5; return `${at}/${k}`; }, "name/reason not a string"),
    withRule((r, at) => { const k = rng.pick(["log", "alert"]); r[k] = rng.pick<Json>(["yes", 1, null]); return `${at}/${k}`; }, "log/alert not a boolean"),
    withRule((r, at) => {
      const t = rng.pick<[Json, string]>([["a", ""], [["a", "a..b"], "/1"], [[""], "/0"], [[5], "/0"], [["user role"], "/0"]]);
      r.log_context = t[0];
      return `${at}/log_context${t[1]}`;
    }, "bad log_context"),
    withRule((r, at) => { r.conditions = rng.pick<Json>([5, true, null, [1]]); return Array.isArray(r.conditions) ? `${at}/conditions/0` : `${at}/conditions`; }, "conditions of a wrong type"),
    withRule((r, at) => {
      const bad = rng.pick(BAD_EXPRESSIONS);
      if (rng.chance(0.5)) {
        r.conditions = bad;
        return `${at}/conditions`;
      }
      const list = ["context.a == 1", "time.hour >= 0"].slice(0, rng.int(3));
      const i = rng.int(list.length + 1);
      list.splice(i, 0, bad);
      r.conditions = list;
      return `${at}/conditions/${i}`;
    }, "bad expression"),
    withRule((r, at) => {
      const c: Obj = { tier: "gold" };
      const t = rng.pick<[string, Json, string]>([
        ["user role", "x", "/user role"], ["a..b", 1, "/a..b"], ["", 1, "/"], ["é", 1, "/é"], ["a.", 1, "/a."],
        ["amount", {}, "/amount"], ["amount", { lessthan: 5 }, "/amount/lessthan"], ["x", { in: "a" }, "/x/in"],
        ["amount", { lt: true }, "/amount/lt"], ["amount", { gte: null }, "/amount/gte"], ["tier", ["a", ["b"]], "/tier/1"],
        ["tier", ["a", { b: 1 }], "/tier/1"], ["tier", "x\\", "/tier"], ["tier", ["x\\"], "/tier/0"], ["s", { glob: 5 }, "/s/glob"],
        ["s", { glob: "a\\" }, "/s/glob"], ["s", { exists: "yes" }, "/s/exists"], ["x", { not_in: 1 }, "/x/not_in"],
        ["a/b", 1, "/a~1b"], ["s", { eq: 1, Eq: 1 }, "/s/Eq"],
      ]);
      c[t[0]] = t[1];
      r.conditions = c;
      return `${at}/conditions${t[2]}`;
    }, "bad object condition"),
  ];
}

// ---------------------------------------------------------------------------
// Requests and times

function formatTime(rng: Rng, ns: bigint): string {
  const offsetMin = rng.weighted([[6, 0], [1, 60], [1, -300], [1, 330], [1, 345], [1, -210]] as const);
  const zulu = offsetMin === 0 && rng.chance(0.8);
  const localNs = ns + BigInt(offsetMin) * 60_000_000_000n;
  const secs = localNs >= 0n ? localNs / 1_000_000_000n : (localNs - 999_999_999n) / 1_000_000_000n;
  const frac = localNs - secs * 1_000_000_000n;
  const d = new Date(Number(secs) * 1000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
  let s = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  if (frac !== 0n || rng.chance(0.1)) {
    let digits = String(frac).padStart(9, "0");
    if (!rng.chance(0.2)) digits = digits.replace(/0+$/, "") || "0";
    s += `.${digits}`;
  }
  if (zulu) return `${s}Z`;
  const sign = offsetMin < 0 ? "-" : "+";
  const a = Math.abs(offsetMin);
  return `${s}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

interface Template {
  action: string;
  resource?: string;
  context: { [k: string]: Json };
  agent: RefAgent | null | undefined;
}

function template(rng: Rng, pools: Pools, hints: Hints): Template {
  const t: Template = { action: rng.pick(rng.chance(0.85) ? pools.actions : ACTIONS), context: context(rng, hints), agent: agent(rng) };
  if (rng.chance(0.8)) t.resource = rng.pick(rng.chance(0.85) ? pools.resources : RESOURCES);
  return t;
}

/** Another version of a set, for a reload: the same, or with limits, names or order changed, or broken. */
function reloadVariant(rng: Rng, current: unknown[]): { policies: unknown[]; injected: InjectedError[] } {
  const policies = structuredClone(current) as Obj[];
  const limits: Array<{ p: Obj; l: Obj[]; i: number }> = [];
  for (const p of policies) {
    if (Array.isArray(p.rate_limits)) (p.rate_limits as Obj[]).forEach((_, i) => limits.push({ p, l: p.rate_limits as Obj[], i }));
  }
  const some = limits.length > 0 ? rng.pick(limits) : null;
  rng.weighted<() => void>([
    [3, () => {}],
    [some ? 3 : 0, () => { some!.l[some!.i].limit = rng.chance(0.7) ? (some!.l[some!.i].limit as number) + rng.range(1, 2) : rng.range(1, 3); }],
    [some ? 2 : 0, () => {
      const old = some!.l[some!.i].period as string;
      const ms = (x: string): number => Number(x.slice(0, -1)) * PERIOD_MS[x.slice(-1)];
      some!.l[some!.i].period = rng.pick(PERIODS.filter((x) => ms(x) !== ms(old)));
    }],
    [some ? 1 : 0, () => { some!.l[some!.i].reason = "changed"; }],
    [some ? 1 : 0, () => { some!.l[some!.i].action = some!.l[some!.i].action === "*" ? "a" : "*"; }],
    [some ? 1 : 0, () => { some!.l.splice(some!.i, 1); }],
    [policies.length > 0 ? 2 : 0, () => {
      const p = rng.pick(policies);
      if (rng.chance(0.3)) delete p.name;
      else p.name = rng.pick(POLICY_NAMES.filter((n) => n !== p.name));
    }],
    [policies.length > 1 ? 2 : 0, () => { policies.reverse(); }],
    [1, () => { policies.unshift({ name: "new", rules: [{ effect: "allow", action: "*", resource: "*" }] }); }],
  ])();
  if (policies.length > 0 && rng.chance(0.15)) {
    const e = inject(rng, policies, rng.int(policies.length));
    if (e) return { policies, injected: [e] };
  }
  return { policies, injected: [] };
}

function twin(v: Json): Json {
  if (typeof v === "number") return v === 0 ? (Object.is(v, -0) ? 0 : -0) : String(v);
  if (typeof v === "string") return v === "null" ? null : v === "true" ? true : v === "false" ? false : Number.isFinite(Number(v)) && v.trim() !== "" ? Number(v) : v;
  if (v === null) return "null";
  if (typeof v === "boolean") return String(v);
  return v;
}

function steps(rng: Rng, periodsMs: number[], pools: Pools, policies: unknown[], hints: Hints, baseMs: number): Step[] {
  let current = policies;
  const templates = Array.from({ length: rng.range(1, 4) }, () => template(rng, pools, hints));
  let now = BigInt(baseMs) * 1_000_000n + BigInt(rng.chance(0.2) ? rng.int(1000) : 0) * 1_000_000n;
  const out: Step[] = [];
  const n = rng.weighted([[2, 1], [3, 3], [4, 6], [3, 10], [1, 16]] as const);
  for (let i = 0; i < n; i++) {
    if (i > 0 && periodsMs.length > 0 && rng.chance(0.08)) {
      const r = reloadVariant(rng, current);
      out.push({ kind: "reload", ...r });
      if (r.injected.length === 0) current = r.policies;
    }
    if (i > 0) {
      const P = BigInt(periodsMs.length > 0 ? rng.pick(periodsMs) : rng.pick([1000, 60_000, 3_600_000])) * 1_000_000n;
      const ms = 1_000_000n;
      now += rng.weighted<() => bigint>([
        [10, () => 0n],
        [15, () => BigInt(rng.int(1000)) * ms],
        [8, () => P],
        [8, () => P - ms],
        [4, () => P + ms],
        [25, () => (P * BigInt(rng.int(1000))) / 1000n / ms * ms],
        [4, () => -BigInt(rng.int(5000)) * ms],
        [2, () => -P / 2n / ms * ms],
        [4, () => BigInt(rng.pick([3_600_000, 86_400_000, 30 * 86_400_000, 7_200_000])) * ms],
        [3, () => P + BigInt(rng.pick([-1000, -1, 1, 1000]))],
      ])();
    }
    const t = rng.pick(templates);
    const req: RefRequest = { action: t.action, time: formatTime(rng, now) };
    if (t.resource !== undefined) req.resource = t.resource;
    let ctx = structuredClone(t.context);
    if (rng.chance(0.2)) ctx = context(rng, hints);
    else if (rng.chance(0.2) && Object.keys(ctx).length > 0) ctx[rng.pick(Object.keys(ctx))] = value(rng);
    else if (rng.chance(0.2) && Object.keys(ctx).length > 0) {
      // a twin: a value whose JSON text is the same (-0 and 0) or nearly so (1 and "1", null and "null")
      const k = rng.pick(Object.keys(ctx));
      ctx[k] = twin(ctx[k]);
    }
    if (Object.keys(ctx).length > 0 || rng.chance(0.5)) req.context = ctx;
    const a = rng.chance(0.15) ? agent(rng) : structuredClone(t.agent);
    if (a !== undefined) req.agent = a;
    if (rng.chance(0.02)) req.time = rng.pick(BAD_TIMES);
    if (rng.chance(0.015)) {
      // not of the §1a shape: the request is invalid
      req.agent = rng.pick<unknown>([{ id: 5 }, { tags: "vip" }, { tags: [1] }, { id: "x", name: "y" }, { trust_level: true }, "bot-1", [], 7]) as RefAgent;
    }
    if (rng.chance(0.03)) {
      // JavaScript values that JSON.stringify reads as null, drops or converts
      const ctx = (req.context ??= {});
      ctx[rng.pick(["a", "n", "s", "u"])] = rng.pick<unknown>([NaN, Infinity, -Infinity, undefined, new Date(0), [NaN, undefined, 1]]);
    }
    out.push({ kind: "check", request: req });
  }
  return out;
}

// ---------------------------------------------------------------------------

/** JSON text of a set, with integers spelled in different ways and perhaps one member written twice. */
export function toJsonText(policies: unknown[], form: TextForm): string {
  const rng = new Rng(form.seed);
  const dup = form.duplicate === null ? null : JSON.stringify(form.duplicate.slice(0, -1));
  const dupKey = form.duplicate?.at(-1);
  const write = (v: unknown, path: Array<string | number>): string => {
    if (typeof v === "number" && Number.isInteger(v) && Math.abs(v) < 1e15 && !Object.is(v, -0) && rng.chance(0.3)) {
      return rng.pick([`${v}.0`, `${v}e0`, `${v * 10}E-1`, `${v}.000e+0`]);
    }
    if (Array.isArray(v)) return `[${v.map((e, i) => write(e, [...path, i])).join(",")}]`;
    if (v !== null && typeof v === "object") {
      const members = Object.entries(v).map(([k, e]) => `${JSON.stringify(k)}:${write(e, [...path, k])}`);
      if (dup === JSON.stringify(path) && typeof dupKey === "string" && dupKey in v) {
        members.push(`${JSON.stringify(dupKey)}:${JSON.stringify((v as Record<string, unknown>)[dupKey])}`);
      }
      return `{${members.join(rng.chance(0.1) ? " ,\n " : ",")}}`;
    }
    return JSON.stringify(v);
  };
  return write(policies, []);
}

/** A random object member inside the set (its path, policy index first), to write twice. */
function memberPath(rng: Rng, policies: unknown[]): Array<string | number> | null {
  const found: Array<Array<string | number>> = [];
  const walk = (v: unknown, path: Array<string | number>): void => {
    if (Array.isArray(v)) v.forEach((e, i) => walk(e, [...path, i]));
    else if (v !== null && typeof v === "object") {
      for (const [k, e] of Object.entries(v)) {
        found.push([...path, k]);
        walk(e, [...path, k]);
      }
    }
  };
  policies.forEach((p, i) => walk(p, [i]));
  return found.length > 0 ? rng.pick(found) : null;
}

export function generateCase(rng: Rng): GeneratedCase {
  const baseMs = rng.pick(BASE_TIMES);
  const hints = new Hints();
  const eg = new ExprGen(rng, Math.floor(baseMs / 1000), hints);
  const pools: Pools = {
    actions: Array.from({ length: rng.range(1, 4) }, () => rng.pick(ACTIONS)),
    resources: Array.from({ length: rng.range(1, 4) }, () => rng.pick(RESOURCES)),
    rules: [],
  };
  const policies: unknown[] = Array.from({ length: rng.weighted([[1, 0], [8, 1], [6, 2], [3, 3]] as const) }, () => policy(rng, eg, pools));
  const injected: InjectedError[] = [];
  if (policies.length > 0 && rng.chance(0.15)) {
    // one error per policy, in one or two policies, so that pointers cannot shift under each other
    const targets = [rng.int(policies.length)];
    if (policies.length > 1 && rng.chance(0.3)) targets.push((targets[0] + 1 + rng.int(policies.length - 1)) % policies.length);
    for (const pi of targets) {
      const e = inject(rng, policies, pi);
      if (e) injected.push(e);
    }
    if (injected.length === 0) policies.push(["allow"]);
    if (injected.length === 0) injected.push({ policy: policies.length - 1, pointer: "", what: "policy not an object" });
  }
  const periods: number[] = [];
  for (const p of policies as Obj[]) {
    for (const l of (Array.isArray(p?.rate_limits) ? p.rate_limits : []) as Obj[]) {
      const m = typeof l?.period === "string" ? /^([0-9]+)([smhd])$/.exec(l.period) : null;
      if (m) periods.push(Number(m[1]) * PERIOD_MS[m[2]]);
    }
  }
  let text: TextForm | undefined;
  if (rng.chance(0.06)) {
    text = { duplicate: null, seed: rng.int(2 ** 32) };
    if (injected.length === 0 && rng.chance(0.4)) {
      text.duplicate = memberPath(rng, policies);
      if (text.duplicate) {
        injected.push({ policy: text.duplicate[0] as number, pointer: text.duplicate.slice(1).map((k) => `/${pointerToken(String(k))}`).join(""), what: "duplicate member" });
      }
    }
  }
  return { policies, text, injected, steps: injected.length > 0 ? [] : steps(rng, periods, pools, policies, hints, baseMs) };
}
