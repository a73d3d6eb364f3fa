// An independent reference model of the Warden policy language, written
// straight from shared/spec/policy-language.md (and the shared conformance
// vectors) for differential testing against warden.wasm. It is deliberately
// slow and simple: a tree-walking interpreter over plain JSON values, with no
// caching, no compilation and no cleverness, so that each function can be
// checked against the paragraph of the spec it implements (cited as §n).
//
// Scope: load-time validation (§1), patterns (§2), conditions in object and
// expression form with three-valued logic and the indeterminate paths (§3),
// agents and trust (§4), deciding (§5) and rate limits (§7). Not modelled:
// YAML, the request size and depth limits of §1a, audit behaviour,
// explanations, state export and import, escalation approvals. Time zones:
// the model knows only the names in KNOWN_ZONES (and treats every other name
// as unknown), so generators must draw zone names from KNOWN_ZONES and
// KNOWN_BAD_ZONES only.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Effect = "allow" | "deny" | "escalate";

export interface RefAgent {
  id?: string;
  trust_level?: string;
  tags?: string[];
}

export interface RefRequest {
  action: string;
  resource?: string;
  /** JSON values, or JavaScript values read as JSON.stringify reads them (§1a: NaN and infinities as null) */
  context?: { [key: string]: unknown };
  /** A malformed agent (not of the §1a shape) makes the request invalid. */
  agent?: RefAgent | null;
  /** RFC 3339 (§1a). Required here: the model has no clock. */
  time: string;
}

export interface RefLoadError {
  policy: number;
  pointer: string;
  message: string;
}

export interface RefDecision {
  allowed: boolean;
  effect: Effect;
  policy: number | null;
  rule: number | null;
  indeterminate: string[];
  rateLimit: { policy: number; index: number } | null;
  /** The rule's or the rate limit's own reason; null when a host would generate one. */
  reason: string | null;
  /** Set when the request is invalid (§1a). */
  error: "ERR_REQUEST_INVALID" | null;
}

/** IANA names the model accepts (all are Zone or Link names of tzdata 2025b). */
export const KNOWN_ZONES: readonly string[] = [
  "UTC", "Etc/UTC", "GMT", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Calcutta",
  "Asia/Kathmandu", "Australia/Lord_Howe", "America/St_Johns", "US/Eastern", "Pacific/Chatham",
];
/** Names that are not IANA names (spelled wrongly, invented, or not strings of the database). */
export const KNOWN_BAD_ZONES: readonly string[] = [
  "europe/berlin", "Mars/Olympus", "UTC+1", "", "Europe/Berlin ", "utc", "Asia/Kolkata/", "America/New York",
];

// ---------------------------------------------------------------------------
// JSON helpers

type JsonType = "null" | "boolean" | "number" | "string" | "array" | "object";

function jsonType(v: Json): JsonType {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v as JsonType;
}

function isObject(v: unknown): v is { [key: string]: Json } {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** §3: `==` is deep JSON equality; numbers by value, arrays in order, objects by member names. */
export function deepEqual(a: Json, b: Json): boolean {
  const ta = jsonType(a);
  if (ta !== jsonType(b)) return false;
  if (ta === "array") {
    const x = a as Json[];
    const y = b as Json[];
    return x.length === y.length && x.every((e, i) => deepEqual(e, y[i]));
  }
  if (ta === "object") {
    const x = a as { [k: string]: Json };
    const y = b as { [k: string]: Json };
    const kx = Object.keys(x);
    const ky = Object.keys(y);
    if (kx.length !== ky.length) return false;
    return kx.every((k) => Object.prototype.hasOwnProperty.call(y, k) && deepEqual(x[k], y[k]));
  }
  return a === b; // numbers by value (-0 === 0), strings, booleans, null
}

/** Strings compared by Unicode code points (not UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** RFC 6901 escaping of one reference token. */
export function pointerToken(s: string): string {
  return s.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** §3: a number's JSON text is what ECMAScript's Number.prototype.toString writes. */
function numberText(n: number): string {
  return Number.prototype.toString.call(n);
}

// ---------------------------------------------------------------------------
// §2 Patterns

type PatternToken = { t: "lit"; c: string } | { t: "star" } | { t: "one" };

export interface Pattern {
  source: string;
  tokens: PatternToken[];
  /** (literal characters, wildcards) */
  spec: [number, number];
}

/** Parses a glob; null when it ends with a lone `\`. */
export function parsePattern(source: string): Pattern | null {
  const cps = Array.from(source);
  const tokens: PatternToken[] = [];
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i];
    if (c === "\\") {
      if (i + 1 >= cps.length) return null;
      tokens.push({ t: "lit", c: cps[++i] });
    } else if (c === "*") tokens.push({ t: "star" });
    else if (c === "?") tokens.push({ t: "one" });
    else tokens.push({ t: "lit", c });
  }
  const literals = tokens.filter((t) => t.t === "lit").length;
  return { source, tokens, spec: [literals, tokens.length - literals] };
}

/** Whether the pattern matches the whole text, over code points (plain dynamic programming). */
export function matchPattern(p: Pattern, text: string): boolean {
  const s = Array.from(text);
  const toks = p.tokens;
  // ok[i][j]: tokens[i..] match s[j..]
  const ok: boolean[][] = [];
  for (let i = 0; i <= toks.length; i++) ok.push(new Array<boolean>(s.length + 1).fill(false));
  ok[toks.length][s.length] = true;
  for (let i = toks.length - 1; i >= 0; i--) {
    for (let j = s.length; j >= 0; j--) {
      const t = toks[i];
      if (t.t === "star") ok[i][j] = ok[i + 1][j] || (j < s.length && ok[i][j + 1]);
      else if (t.t === "one") ok[i][j] = j < s.length && ok[i + 1][j + 1];
      else ok[i][j] = j < s.length && s[j] === t.c && ok[i + 1][j + 1];
    }
  }
  return ok[0][0];
}

/** Positive when a is more specific than b (§2). */
function compareSpec(a: [number, number], b: [number, number]): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  return b[1] - a[1];
}

/** The most specific of the patterns that match, or null when none matches. */
function bestMatch(patterns: Pattern[], text: string): [number, number] | null {
  let best: [number, number] | null = null;
  for (const p of patterns) {
    if (!matchPattern(p, text)) continue;
    if (best === null || compareSpec(p.spec, best) > 0) best = p.spec;
  }
  return best;
}

// ---------------------------------------------------------------------------
// §3 Expressions: lexer and parser

type Tok =
  | { t: "num"; v: number }
  | { t: "str"; v: string }
  | { t: "word"; v: string }
  | { t: "kw"; v: string } // lower-case keyword
  | { t: "sym"; v: string }
  | { t: "end" };

const KEYWORDS = new Set(["and", "or", "not", "in", "matches", "true", "false", "null"]);

class SyntaxErr extends Error {}

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const num = /-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
  const word = /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/y;
  while (i < src.length) {
    const c = src[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    if ((c >= "0" && c <= "9") || (c === "-" && src[i + 1] >= "0" && src[i + 1] <= "9")) {
      num.lastIndex = i;
      const m = num.exec(src)!;
      out.push({ t: "num", v: Number(m[0]) });
      i += m[0].length;
      continue;
    }
    if (c === "'" || c === '"') {
      let s = "";
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new SyntaxErr("unterminated string");
        const d = src[j];
        if (d === "\\") {
          if (j + 1 >= src.length) throw new SyntaxErr("unterminated string");
          // the next character (a whole code point) is literal
          const cp = String.fromCodePoint(src.codePointAt(j + 1)!);
          s += cp;
          j += 1 + cp.length;
          continue;
        }
        if (d === c) break;
        s += d;
        j++;
      }
      out.push({ t: "str", v: s });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      word.lastIndex = i;
      const m = word.exec(src)!;
      const w = m[0];
      if (!w.includes(".") && KEYWORDS.has(w.toLowerCase())) out.push({ t: "kw", v: w.toLowerCase() });
      else out.push({ t: "word", v: w });
      i += w.length;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (["==", "!=", "<=", ">=", "&&", "||"].includes(two)) {
      out.push({ t: "sym", v: two });
      i += 2;
      continue;
    }
    if ("<>!()[],".includes(c)) {
      out.push({ t: "sym", v: c });
      i++;
      continue;
    }
    throw new SyntaxErr(`unexpected character ${JSON.stringify(c)}`);
  }
  out.push({ t: "end" });
  return out;
}

type CmpOp = "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in" | "matches";

export type Expr =
  | { t: "or"; items: Expr[] }
  | { t: "and"; items: Expr[] }
  | { t: "not"; e: Expr }
  | { t: "cmp"; op: CmpOp; l: Operand; r: Operand }
  | { t: "bare"; o: Operand };

export type Operand =
  | { t: "lit"; v: Json }
  | { t: "path"; path: string }
  | { t: "list"; items: Operand[] }
  | { t: "paren"; e: Expr };

const TIME_FIELDS = new Set(["year", "month", "day", "hour", "minute", "weekday", "epoch"]);
const AGENT_FIELDS = new Set(["id", "trust_level", "tags"]);
const REQUEST_FIELDS = new Set(["action", "resource"]);

/** §3: whether a dotted path (as written in an expression) names something a condition can read. */
function validExprPath(path: string): boolean {
  const segs = path.split(".");
  switch (segs[0]) {
    case "context": return segs.length >= 2;
    case "agent": return segs.length === 2 && AGENT_FIELDS.has(segs[1]);
    case "request": return segs.length === 2 && REQUEST_FIELDS.has(segs[1]);
    case "time": return segs.length === 2 && TIME_FIELDS.has(segs[1]);
    default: return false;
  }
}

/** Parses an expression; throws SyntaxErr for anything §3 calls a load error. */
export function parseExpression(src: string): Expr {
  const toks = lex(src);
  let pos = 0;
  const peek = (k = 0): Tok => toks[Math.min(pos + k, toks.length - 1)];
  const isSym = (t: Tok, v: string): boolean => t.t === "sym" && t.v === v;
  const isKw = (t: Tok, v: string): boolean => t.t === "kw" && t.v === v;

  function or(): Expr {
    const items = [and()];
    while (isKw(peek(), "or") || isSym(peek(), "||")) {
      pos++;
      items.push(and());
    }
    return items.length === 1 ? items[0] : { t: "or", items };
  }
  function and(): Expr {
    const items = [not()];
    while (isKw(peek(), "and") || isSym(peek(), "&&")) {
      pos++;
      items.push(not());
    }
    return items.length === 1 ? items[0] : { t: "and", items };
  }
  function not(): Expr {
    if (isKw(peek(), "not") || isSym(peek(), "!")) {
      pos++;
      return { t: "not", e: not() };
    }
    return compare();
  }
  function compare(): Expr {
    const l = operand();
    const t = peek();
    let op: CmpOp | null = null;
    if (t.t === "sym" && ["==", "!=", "<", "<=", ">", ">="].includes(t.v)) op = t.v as CmpOp;
    else if (isKw(t, "in")) op = "in";
    else if (isKw(t, "matches")) op = "matches";
    else if (isKw(t, "not") && isKw(peek(1), "in")) op = "not in";
    if (op === null) return { t: "bare", o: l };
    pos += op === "not in" ? 2 : 1;
    const r = operand();
    if (op === "matches" && r.t === "lit" && typeof r.v === "string" && parsePattern(r.v) === null) {
      throw new SyntaxErr("MATCHES with an invalid literal pattern");
    }
    return { t: "cmp", op, l, r };
  }
  function operand(): Operand {
    const t = peek();
    pos++;
    if (t.t === "num") return { t: "lit", v: t.v };
    if (t.t === "str") return { t: "lit", v: t.v };
    if (isKw(t, "true")) return { t: "lit", v: true };
    if (isKw(t, "false")) return { t: "lit", v: false };
    if (isKw(t, "null")) return { t: "lit", v: null };
    if (t.t === "word") {
      if (!validExprPath(t.v)) throw new SyntaxErr(`unknown path ${t.v}`);
      return { t: "path", path: t.v };
    }
    if (isSym(t, "[")) {
      const items: Operand[] = [];
      if (isSym(peek(), "]")) {
        pos++;
        return { t: "list", items };
      }
      for (;;) {
        items.push(operand());
        const n = peek();
        pos++;
        if (isSym(n, "]")) return { t: "list", items };
        if (!isSym(n, ",")) throw new SyntaxErr("expected , or ]");
      }
    }
    if (isSym(t, "(")) {
      const e = or();
      if (!isSym(peek(), ")")) throw new SyntaxErr("expected )");
      pos++;
      return { t: "paren", e };
    }
    throw new SyntaxErr("expected an operand");
  }

  const e = or();
  if (peek().t !== "end") throw new SyntaxErr("unexpected token after the expression");
  return e;
}

// ---------------------------------------------------------------------------
// §1 Loading

type ObjCond =
  | { t: "glob"; p: Pattern }
  | { t: "eqlit"; v: Json }
  | { t: "anyof"; items: Array<{ t: "glob"; p: Pattern } | { t: "eqlit"; v: Json }> }
  | { t: "ops"; ops: Array<{ op: string; arg: Json; p?: Pattern }> };

type Conditions =
  | { t: "none" }
  | { t: "object"; entries: Array<{ key: string; cond: ObjCond }> }
  | { t: "exprs"; exprs: Expr[] };

interface Rule {
  effect: Effect;
  action: Pattern[];
  resource: Pattern[];
  conditions: Conditions;
  conditionCount: number;
  trust: number | null; // index into trust_levels
  reason: string | null;
}

interface RateLimit {
  /** §7 identity for carrying counts over a load: policy name, action, resource, period, scope */
  identity: string;
  action: Pattern[];
  resource: Pattern[];
  limit: number;
  periodNs: bigint;
  scope: { t: "agent" } | { t: "global" } | { t: "context"; segs: string[] };
  reason: string;
}

interface Policy {
  name: string | null;
  defaultEffect: "allow" | "deny";
  agentMatch: { ids: Pattern[] | null; tags: string[] | null } | null;
  zone: string;
  trustLevels: string[];
  rules: Rule[];
  rateLimits: RateLimit[];
}

const POLICY_FIELDS = ["name", "description", "version", "default_effect", "agent_match", "timezone", "trust_levels", "rules", "rate_limits", "audit"];
const RULE_FIELDS = ["effect", "action", "resource", "conditions", "trust_level", "name", "reason", "log", "log_context", "alert"];
const LIMIT_FIELDS = ["action", "resource", "limit", "period", "scope", "reason"];
const AUDIT_FIELDS = ["log_allowed", "log_denied", "redact"];
const AGENT_MATCH_FIELDS = ["ids", "tags"];
const OPERATORS = ["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "glob", "exists"];
const DEFAULT_TRUST = ["basic", "elevated", "admin"];
const UNIT_SECONDS: Record<string, bigint> = { s: 1n, m: 60n, h: 3600n, d: 86400n };

/** §3: context paths outside expressions: dotted segments of [A-Za-z0-9_-]+. */
export function validContextPath(s: string): boolean {
  return /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(s);
}

class Loader {
  errors: RefLoadError[] = [];
  constructor(private readonly index: number) {}

  err(pointer: string, message: string): void {
    this.errors.push({ policy: this.index, pointer, message });
  }

  unknownFields(obj: { [k: string]: unknown }, allowed: string[], at: string): void {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) this.err(`${at}/${pointerToken(k)}`, `unknown field \`${k}\``);
  }

  /** A pattern or a non-empty array of non-empty patterns (§1, §2). */
  patterns(v: unknown, at: string): Pattern[] {
    const one = (s: unknown, ptr: string): Pattern | null => {
      if (typeof s !== "string") {
        this.err(ptr, "not a pattern string");
        return null;
      }
      if (s === "") {
        this.err(ptr, "empty pattern");
        return null;
      }
      const p = parsePattern(s);
      if (!p) this.err(ptr, "trailing backslash");
      return p;
    };
    if (Array.isArray(v)) {
      if (v.length === 0) {
        this.err(at, "empty pattern array");
        return [];
      }
      return v.map((s, i) => one(s, `${at}/${i}`)).filter((p): p is Pattern => p !== null);
    }
    const p = one(v, at);
    return p ? [p] : [];
  }

  policy(doc: unknown): Policy | null {
    if (!isObject(doc)) {
      this.err("", "a policy must be an object");
      return null;
    }
    this.unknownFields(doc, POLICY_FIELDS, "");
    if ("name" in doc && typeof doc.name !== "string") this.err("/name", "not a string");
    if ("description" in doc && typeof doc.description !== "string") this.err("/description", "not a string");
    if ("version" in doc && !(typeof doc.version === "number" && Number.isInteger(doc.version))) this.err("/version", "not an integer");
    let defaultEffect: "allow" | "deny" = "deny";
    if ("default_effect" in doc) {
      if (doc.default_effect === "allow" || doc.default_effect === "deny") defaultEffect = doc.default_effect;
      else this.err("/default_effect", "must be allow or deny");
    }
    let zone = "UTC";
    if ("timezone" in doc) {
      if (typeof doc.timezone === "string" && KNOWN_ZONES.includes(doc.timezone)) zone = doc.timezone;
      else this.err("/timezone", "not an IANA time zone name");
    }
    let trustLevels: string[] | null = DEFAULT_TRUST;
    if ("trust_levels" in doc) {
      const t = doc.trust_levels;
      if (!Array.isArray(t) || t.length === 0) {
        this.err("/trust_levels", "must be a non-empty array");
        trustLevels = null;
      } else {
        t.forEach((x, i) => {
          if (typeof x !== "string" || x === "") {
            this.err(`/trust_levels/${i}`, "must be a non-empty string");
            trustLevels = null;
          } else if (t.indexOf(x) !== i) {
            this.err(`/trust_levels/${i}`, "duplicate trust level");
            trustLevels = null;
          }
        });
        if (trustLevels !== null) trustLevels = t as string[];
      }
    }
    let agentMatch: Policy["agentMatch"] = null;
    if ("agent_match" in doc) {
      const am = doc.agent_match;
      if (!isObject(am)) this.err("/agent_match", "must be an object");
      else {
        this.unknownFields(am, AGENT_MATCH_FIELDS, "/agent_match");
        if (!("ids" in am) && !("tags" in am)) this.err("/agent_match", "needs ids or tags");
        agentMatch = { ids: null, tags: null };
        if ("ids" in am) {
          if (!Array.isArray(am.ids)) this.err("/agent_match/ids", "must be an array");
          else {
            agentMatch.ids = [];
            am.ids.forEach((s, i) => {
              const ptr = `/agent_match/ids/${i}`;
              if (typeof s !== "string" || s === "") this.err(ptr, "must be a non-empty pattern");
              else {
                const p = parsePattern(s);
                if (!p) this.err(ptr, "trailing backslash");
                else agentMatch!.ids!.push(p);
              }
            });
          }
        }
        if ("tags" in am) {
          if (!Array.isArray(am.tags)) this.err("/agent_match/tags", "must be an array");
          else {
            am.tags.forEach((s, i) => {
              if (typeof s !== "string") this.err(`/agent_match/tags/${i}`, "must be a string");
            });
            agentMatch.tags = am.tags.filter((s): s is string => typeof s === "string");
          }
        }
      }
    }
    if ("audit" in doc) {
      const a = doc.audit;
      if (!isObject(a)) this.err("/audit", "must be an object");
      else {
        this.unknownFields(a, AUDIT_FIELDS, "/audit");
        for (const k of ["log_allowed", "log_denied"]) if (k in a && typeof a[k] !== "boolean") this.err(`/audit/${k}`, "must be a boolean");
        if ("redact" in a) this.contextPaths(a.redact, "/audit/redact");
      }
    }
    const rules: Rule[] = [];
    if (!("rules" in doc)) this.err("/rules", "required");
    else if (!Array.isArray(doc.rules)) this.err("/rules", "must be an array");
    else doc.rules.forEach((r, i) => {
      const rule = this.rule(r, `/rules/${i}`, trustLevels);
      if (rule) rules.push(rule);
    });
    const rateLimits: RateLimit[] = [];
    if ("rate_limits" in doc) {
      if (!Array.isArray(doc.rate_limits)) this.err("/rate_limits", "must be an array");
      else doc.rate_limits.forEach((l, i) => {
        const limit = this.rateLimit(l, `/rate_limits/${i}`);
        if (limit) rateLimits.push(limit);
      });
    }
    if (this.errors.length > 0) return null;
    const name = typeof doc.name === "string" ? doc.name : null;
    for (const l of rateLimits) l.identity = JSON.stringify([name, l.identity]);
    return { name, defaultEffect, agentMatch, zone, trustLevels: trustLevels ?? DEFAULT_TRUST, rules, rateLimits };
  }

  contextPaths(v: unknown, at: string): void {
    if (!Array.isArray(v)) {
      this.err(at, "must be an array of context paths");
      return;
    }
    v.forEach((p, i) => {
      if (typeof p !== "string" || !validContextPath(p)) this.err(`${at}/${i}`, "not a context path");
    });
  }

  rule(r: unknown, at: string, trustLevels: string[] | null): Rule | null {
    if (!isObject(r)) {
      this.err(at, "a rule must be an object");
      return null;
    }
    const before = this.errors.length;
    this.unknownFields(r, RULE_FIELDS, at);
    let effect: Effect = "deny";
    if (r.effect === "allow" || r.effect === "deny" || r.effect === "escalate") effect = r.effect;
    else this.err(`${at}/effect`, "must be allow, deny or escalate");
    let action: Pattern[] = [];
    if (!("action" in r)) this.err(`${at}/action`, "required");
    else action = this.patterns(r.action, `${at}/action`);
    const resource = "resource" in r ? this.patterns(r.resource, `${at}/resource`) : [parsePattern("*")!];
    let trust: number | null = null;
    if ("trust_level" in r) {
      if (typeof r.trust_level !== "string") this.err(`${at}/trust_level`, "must be a string");
      else if (trustLevels !== null) {
        // (when trust_levels itself is invalid, the requirement cannot be judged)
        const i = trustLevels.indexOf(r.trust_level);
        if (i < 0) this.err(`${at}/trust_level`, "unknown trust level");
        else trust = i;
      }
    }
    for (const k of ["name", "reason"]) if (k in r && typeof r[k] !== "string") this.err(`${at}/${k}`, "must be a string");
    for (const k of ["log", "alert"]) if (k in r && typeof r[k] !== "boolean") this.err(`${at}/${k}`, "must be a boolean");
    if ("log_context" in r) this.contextPaths(r.log_context, `${at}/log_context`);
    let conditions: Conditions = { t: "none" };
    let count = 0;
    if ("conditions" in r) {
      const c = this.conditions(r.conditions, `${at}/conditions`);
      conditions = c.conditions;
      count = c.count;
    }
    if (this.errors.length > before) return null;
    return {
      effect, action, resource, conditions,
      conditionCount: count + (trust !== null ? 1 : 0),
      trust,
      reason: typeof r.reason === "string" ? r.reason : null,
    };
  }

  conditions(c: unknown, at: string): { conditions: Conditions; count: number } {
    if (typeof c === "string") {
      const e = this.expression(c, at);
      return { conditions: { t: "exprs", exprs: e ? [e] : [] }, count: 1 };
    }
    if (Array.isArray(c)) {
      const exprs: Expr[] = [];
      c.forEach((s, i) => {
        if (typeof s !== "string") this.err(`${at}/${i}`, "an expression must be a string");
        else {
          const e = this.expression(s, `${at}/${i}`);
          if (e) exprs.push(e);
        }
      });
      return { conditions: c.length === 0 ? { t: "none" } : { t: "exprs", exprs }, count: c.length };
    }
    if (isObject(c)) {
      const entries: Array<{ key: string; cond: ObjCond }> = [];
      for (const [key, v] of Object.entries(c)) {
        const ptr = `${at}/${pointerToken(key)}`;
        if (!validContextPath(key)) {
          this.err(ptr, "not a context path");
          continue;
        }
        const cond = this.objectCondition(v, ptr);
        if (cond) entries.push({ key, cond });
      }
      const n = Object.keys(c).length;
      return { conditions: n === 0 ? { t: "none" } : { t: "object", entries }, count: n };
    }
    this.err(at, "conditions must be an object, a string or an array of strings");
    return { conditions: { t: "none" }, count: 0 };
  }

  expression(s: string, at: string): Expr | null {
    try {
      return parseExpression(s);
    } catch (e) {
      if (!(e instanceof SyntaxErr)) throw e;
      this.err(at, e.message);
      return null;
    }
  }

  globOf(s: string, at: string): Pattern | null {
    const p = parsePattern(s);
    if (!p) this.err(at, "trailing backslash");
    return p;
  }

  objectCondition(v: Json, at: string): ObjCond | null {
    if (typeof v === "string") {
      const p = this.globOf(v, at);
      return p && { t: "glob", p };
    }
    if (v === null || typeof v === "number" || typeof v === "boolean") return { t: "eqlit", v };
    if (Array.isArray(v)) {
      const items: Array<{ t: "glob"; p: Pattern } | { t: "eqlit"; v: Json }> = [];
      let ok = true;
      v.forEach((e, i) => {
        if (typeof e === "string") {
          const p = this.globOf(e, `${at}/${i}`);
          if (p) items.push({ t: "glob", p });
          else ok = false;
        } else if (e === null || typeof e === "number" || typeof e === "boolean") items.push({ t: "eqlit", v: e });
        else {
          this.err(`${at}/${i}`, "an any-of element must be a string, number, boolean or null");
          ok = false;
        }
      });
      return ok ? { t: "anyof", items } : null;
    }
    // an operator object
    const keys = Object.keys(v);
    if (keys.length === 0) {
      this.err(at, "an operator object needs at least one operator");
      return null;
    }
    const ops: Array<{ op: string; arg: Json; p?: Pattern }> = [];
    let ok = true;
    for (const op of keys) {
      const arg = v[op];
      const ptr = `${at}/${pointerToken(op)}`;
      const bad = (m: string): void => {
        this.err(ptr, m);
        ok = false;
      };
      if (!OPERATORS.includes(op)) bad(`unknown operator \`${op}\``);
      else if (["lt", "lte", "gt", "gte"].includes(op)) {
        if (typeof arg === "number" || typeof arg === "string") ops.push({ op, arg });
        else bad("needs a number or a string");
      } else if (op === "in" || op === "not_in") {
        if (Array.isArray(arg)) ops.push({ op, arg });
        else bad("needs an array");
      } else if (op === "glob") {
        if (typeof arg !== "string") bad("needs a pattern string");
        else {
          const p = parsePattern(arg);
          if (!p) bad("trailing backslash");
          else ops.push({ op, arg, p });
        }
      } else if (op === "exists") {
        if (typeof arg === "boolean") ops.push({ op, arg });
        else bad("needs a boolean");
      } else ops.push({ op, arg }); // eq, ne: any JSON value
    }
    return ok ? { t: "ops", ops } : null;
  }

  rateLimit(l: unknown, at: string): RateLimit | null {
    if (!isObject(l)) {
      this.err(at, "a rate limit must be an object");
      return null;
    }
    const before = this.errors.length;
    this.unknownFields(l, LIMIT_FIELDS, at);
    let action: Pattern[] = [];
    if (!("action" in l)) this.err(`${at}/action`, "required");
    else action = this.patterns(l.action, `${at}/action`);
    const resource = "resource" in l ? this.patterns(l.resource, `${at}/resource`) : [parsePattern("*")!];
    let limit = 0;
    if (!("limit" in l)) this.err(`${at}/limit`, "required");
    else if (typeof l.limit !== "number" || !Number.isInteger(l.limit) || l.limit < 1) this.err(`${at}/limit`, "must be an integer >= 1");
    else limit = l.limit;
    let periodNs = 0n;
    if (!("period" in l)) this.err(`${at}/period`, "required");
    else {
      const m = typeof l.period === "string" ? /^([0-9]+)([smhd])$/.exec(l.period) : null;
      if (!m || BigInt(m[1]) === 0n) this.err(`${at}/period`, "must be a positive integer and a unit");
      else periodNs = BigInt(m[1]) * UNIT_SECONDS[m[2]] * 1_000_000_000n;
    }
    let scope: RateLimit["scope"] = { t: "agent" };
    if ("scope" in l) {
      const s = l.scope;
      if (s === "agent") scope = { t: "agent" };
      else if (s === "global") scope = { t: "global" };
      else if (typeof s === "string" && s.startsWith("context.") && validContextPath(s.slice(8))) scope = { t: "context", segs: s.slice(8).split(".") };
      else this.err(`${at}/scope`, "must be agent, global or context.<path>");
    }
    if ("reason" in l && typeof l.reason !== "string") this.err(`${at}/reason`, "must be a string");
    if (this.errors.length > before) return null;
    const list = (v: unknown): unknown => (v === undefined ? ["*"] : typeof v === "string" ? [v] : v);
    const identity = JSON.stringify([list(l.action), list(l.resource), String(periodNs), l.scope ?? "agent"]);
    return { identity, action, resource, limit, periodNs, scope, reason: typeof l.reason === "string" ? l.reason : "rate limit exceeded" };
  }
}

// ---------------------------------------------------------------------------
// §1a Time

/** Days since 1970-01-01 of a proleptic Gregorian date. */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(m) ? 30 : 31;
}

/** RFC 3339 with upper-case T and Z, as epoch nanoseconds; null when malformed. */
export function parseTime(s: string): bigint | null {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$/.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  // RFC 3339 allows second 60 (a leap second); it is read as the next second (as engine/ABI.md says)
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || se > 60) return null;
  let offsetMin = 0;
  if (m[8] !== "Z") {
    const oh = Number(m[8].slice(1, 3));
    const om = Number(m[8].slice(4, 6));
    if (oh > 23 || om > 59) return null;
    offsetMin = (m[8][0] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const secs = BigInt(daysFromCivil(y, mo, d)) * 86400n + BigInt(h * 3600 + mi * 60 + se) - BigInt(offsetMin * 60);
  const frac = m[7] ? m[7].slice(1) : "";
  const fracNs = frac === "" ? 0n : BigInt((frac + "000000000").slice(0, 9)); // sub-nanosecond digits dropped
  return secs * 1_000_000_000n + fracNs;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** §3 `time.*` fields of an instant in a zone, the wall clock computed with Intl. */
export function timeFields(ns: bigint, zone: string): Record<string, number> {
  const epoch = floorDiv(ns, 1_000_000_000n);
  const f = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
    hour: "numeric", minute: "numeric", weekday: "short", era: "short",
  });
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(Number(epoch) * 1000))) parts[p.type] = p.value;
  let year = Number(parts.year);
  if (parts.era.startsWith("B")) year = 1 - year;
  return {
    year, month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour), minute: Number(parts.minute),
    weekday: WEEKDAYS[parts.weekday], epoch: Number(epoch),
  };
}

// ---------------------------------------------------------------------------
// §3 Evaluation

type TV = true | false | "indet";
type OV = { k: "val"; v: Json } | { k: "missing" } | { k: "indet" };
/** An evaluated operand: its value, the missing paths in it, all the path operands in it. */
interface EvOperand { ov: OV; missing: string[]; paths: string[] }

interface Env {
  read(path: string): OV;
}

const and3 = (xs: TV[]): TV => (xs.includes(false) ? false : xs.includes("indet") ? "indet" : true);
const or3 = (xs: TV[]): TV => (xs.includes(true) ? true : xs.includes("indet") ? "indet" : false);
const not3 = (x: TV): TV => (x === "indet" ? "indet" : !x);

function evalOperand(o: Operand, env: Env, sink: Set<string>): EvOperand {
  switch (o.t) {
    case "lit": return { ov: { k: "val", v: o.v }, missing: [], paths: [] };
    case "path": {
      const ov = env.read(o.path);
      return { ov, missing: ov.k === "missing" ? [o.path] : [], paths: [o.path] };
    }
    case "list": {
      const items = o.items.map((i) => evalOperand(i, env, sink));
      const missing = items.flatMap((i) => i.missing);
      const paths = items.flatMap((i) => i.paths);
      // "A list operand with a missing element is missing."
      if (items.some((i) => i.ov.k === "missing")) return { ov: { k: "missing" }, missing, paths };
      if (items.some((i) => i.ov.k === "indet")) return { ov: { k: "indet" }, missing, paths };
      return { ov: { k: "val", v: items.map((i) => (i.ov as { v: Json }).v) }, missing, paths };
    }
    case "paren": {
      // "A parenthesised operand adds no paths of its own (its inner comparisons report theirs)."
      const tv = evalExpr(o.e, env, sink);
      return { ov: tv === "indet" ? { k: "indet" } : { k: "val", v: tv }, missing: [], paths: [] };
    }
  }
}

function compareValues(op: CmpOp, a: Json, b: Json): TV {
  switch (op) {
    case "==": return deepEqual(a, b);
    case "!=": return !deepEqual(a, b);
    case "<": case "<=": case ">": case ">=": {
      let d: number;
      if (typeof a === "number" && typeof b === "number") d = a < b ? -1 : a > b ? 1 : 0;
      else if (typeof a === "string" && typeof b === "string") d = compareCodePoints(a, b);
      else return "indet";
      return op === "<" ? d < 0 : op === "<=" ? d <= 0 : op === ">" ? d > 0 : d >= 0;
    }
    case "in": case "not in": {
      if (!Array.isArray(b)) return "indet";
      const found = b.some((e) => deepEqual(a, e));
      return op === "in" ? found : !found;
    }
    case "matches": {
      if (typeof a !== "string" || typeof b !== "string") return "indet";
      const p = parsePattern(b);
      if (!p) return "indet";
      return matchPattern(p, a);
    }
  }
}

/**
 * §3 "Fail closed": the paths a comparison or bare operand that came out
 * indeterminate adds: its missing path operands, or, when none was missing and
 * no operand was an indeterminate parenthesised expression, all its path operands.
 */
function addPaths(sink: Set<string>, operands: EvOperand[]): void {
  const missing = operands.flatMap((o) => o.missing);
  if (missing.length > 0) missing.forEach((p) => sink.add(p));
  else if (!operands.some((o) => o.ov.k === "indet")) operands.flatMap((o) => o.paths).forEach((p) => sink.add(p));
}

/** Evaluates every operand (no short-circuit), adding to `sink` the paths behind indeterminate comparisons. */
export function evalExpr(e: Expr, env: Env, sink: Set<string>): TV {
  switch (e.t) {
    case "or": return or3(e.items.map((x) => evalExpr(x, env, sink)));
    case "and": return and3(e.items.map((x) => evalExpr(x, env, sink)));
    case "not": return not3(evalExpr(e.e, env, sink));
    case "cmp": {
      const l = evalOperand(e.l, env, sink);
      const r = evalOperand(e.r, env, sink);
      let tv: TV;
      if (l.ov.k !== "val" || r.ov.k !== "val") tv = "indet"; // missing, or an indeterminate parenthesised operand
      else tv = compareValues(e.op, l.ov.v, r.ov.v);
      if (tv === "indet") addPaths(sink, [l, r]);
      return tv;
    }
    case "bare": {
      const o = evalOperand(e.o, env, sink);
      const tv: TV = o.ov.k === "val" && typeof o.ov.v === "boolean" ? o.ov.v : "indet";
      if (tv === "indet") addPaths(sink, [o]);
      return tv;
    }
  }
}

/** §3 object form: a string glob against a value (strings directly, numbers and booleans as JSON text, arrays any-of). */
function globValue(p: Pattern, v: Json): boolean {
  if (typeof v === "string") return matchPattern(p, v);
  if (typeof v === "number") return matchPattern(p, numberText(v));
  if (typeof v === "boolean") return matchPattern(p, String(v));
  // "an array matches if any element matches", read recursively: an element that is itself an array
  // matches if one of its elements does (the spec leaves nested arrays open; the engine reads it so too)
  if (Array.isArray(v)) return v.some((e) => globValue(p, e));
  return false; // an object or null does not match
}

function evalObjectCondition(key: string, c: ObjCond, env: Env, sink: Set<string>): TV {
  const path = `context.${key}`;
  const ov = env.read(path);
  const indet = (): TV => {
    sink.add(path);
    return "indet";
  };
  if (c.t === "ops") {
    const results = c.ops.map((o): TV => {
      if (o.op === "exists") return (ov.k === "val") === o.arg;
      if (ov.k !== "val") return indet();
      const v = ov.v;
      switch (o.op) {
        case "eq": return deepEqual(v, o.arg);
        case "ne": return !deepEqual(v, o.arg);
        case "lt": case "lte": case "gt": case "gte": {
          const op = ({ lt: "<", lte: "<=", gt: ">", gte: ">=" } as const)[o.op];
          const tv = compareValues(op, v, o.arg);
          return tv === "indet" ? indet() : tv;
        }
        case "in": return (o.arg as Json[]).some((e) => deepEqual(v, e));
        case "not_in": return !(o.arg as Json[]).some((e) => deepEqual(v, e));
        case "glob": return typeof v === "string" ? matchPattern(o.p!, v) : indet();
      }
      throw new Error(`unreachable operator ${o.op}`);
    });
    return and3(results);
  }
  if (ov.k !== "val") return indet();
  const v = ov.v;
  const one = (x: { t: "glob"; p: Pattern } | { t: "eqlit"; v: Json }): boolean =>
    x.t === "glob" ? globValue(x.p, v) : deepEqual(v, x.v);
  if (c.t === "anyof") return c.items.some(one);
  return one(c);
}

function evalConditions(c: Conditions, env: Env, sink: Set<string>): TV {
  if (c.t === "none") return true;
  if (c.t === "exprs") return and3(c.exprs.map((e) => evalExpr(e, env, sink)));
  return and3(c.entries.map((x) => evalObjectCondition(x.key, x.cond, env, sink)));
}

// ---------------------------------------------------------------------------
// §5, §7 The engine

const NO_VALUE = "\u0000no value"; // never the JSON text of a value
const EFFECT_RANK: Record<Effect, number> = { deny: 0, escalate: 1, allow: 2 };

export class ReferenceEngine {
  private policies: Policy[] = [];
  /** counts[policy][limit]: scope key -> times (epoch ns) of counted requests */
  private counts: Array<Array<Map<string, bigint[]>>> = [];

  /**
   * §1: loads a bundle; a bundle that fails to load changes nothing. §7: a limit keeps the counts of
   * the limit of the previous bundle with the same identity. `ambiguousCarry`: some identity is not
   * unique in one of the two bundles, where the spec does not say which counts go where.
   */
  load(docs: unknown): { ok: true; ambiguousCarry: boolean } | { ok: false; errors: RefLoadError[] } {
    if (!Array.isArray(docs)) return { ok: false, errors: [{ policy: -1, pointer: "", message: "a bundle is an array" }] };
    const errors: RefLoadError[] = [];
    const policies: Policy[] = [];
    docs.forEach((d, i) => {
      const l = new Loader(i);
      const p = l.policy(d);
      errors.push(...l.errors);
      if (p) policies.push(p);
    });
    if (errors.length > 0) return { ok: false, errors };
    const old = new Map<string, Array<Map<string, bigint[]>>>();
    this.policies.forEach((p, pi) => p.rateLimits.forEach((l, li) => {
      old.set(l.identity, [...(old.get(l.identity) ?? []), this.counts[pi][li]]);
    }));
    const fresh = new Map<string, number>();
    for (const p of policies) for (const l of p.rateLimits) fresh.set(l.identity, (fresh.get(l.identity) ?? 0) + 1);
    let ambiguousCarry = false;
    this.counts = policies.map((p) => p.rateLimits.map((l) => {
      const prev = old.get(l.identity) ?? [];
      if (prev.length > 1 || (prev.length === 1 && fresh.get(l.identity)! > 1)) ambiguousCarry = true;
      return prev.length > 0 ? new Map([...prev[0]].map(([k, v]) => [k, [...v]])) : new Map();
    }));
    this.policies = policies;
    return { ok: true, ambiguousCarry };
  }

  /**
   * §1: loads a bundle given as JSON text; a duplicate member name is a load error at the
   * duplicate's pointer (the model reports only those, when there are any).
   */
  loadText(text: string): ReturnType<ReferenceEngine["load"]> {
    const dups: RefLoadError[] = [];
    const value = parseJsonText(text, (path) => {
      // path[0] is the policy's index in the bundle
      dups.push({ policy: path[0] as number, pointer: path.slice(1).map((k) => `/${pointerToken(String(k))}`).join(""), message: "duplicate member" });
    });
    if (dups.length > 0) return { ok: false, errors: dups };
    return this.load(value);
  }

  check(req: RefRequest): RefDecision {
    const now = parseTime(req.time);
    if (now === null) {
      return { allowed: false, effect: "deny", policy: null, rule: null, indeterminate: [], rateLimit: null, reason: null, error: "ERR_REQUEST_INVALID" };
    }
    const action = req.action;
    const resource = req.resource ?? "";
    // §1a: hosts read their language's values as its standard JSON encoder does
    const context = asJson(req.context ?? {}) as { [key: string]: Json };
    const agent = req.agent ?? null;
    if (!validAgent(agent)) {
      return { allowed: false, effect: "deny", policy: null, rule: null, indeterminate: [], rateLimit: null, reason: null, error: "ERR_REQUEST_INVALID" };
    }

    const envFor = (zone: string): Env => {
      let fields: Record<string, number> | null = null;
      return {
        read(path: string): OV {
          const segs = path.split(".");
          const val = (v: Json): OV => ({ k: "val", v });
          switch (segs[0]) {
            case "context": {
              let v: Json = context;
              for (const s of segs.slice(1)) {
                if (!isObject(v) || !Object.prototype.hasOwnProperty.call(v, s)) return { k: "missing" };
                v = v[s];
              }
              return val(v);
            }
            case "agent": {
              if (agent === null) return { k: "missing" };
              if (segs[1] === "id") return typeof agent.id === "string" ? val(agent.id) : { k: "missing" };
              if (segs[1] === "trust_level") return typeof agent.trust_level === "string" ? val(agent.trust_level) : { k: "missing" };
              return Array.isArray(agent.tags) ? val(agent.tags) : { k: "missing" };
            }
            case "request": return val(segs[1] === "action" ? action : resource);
            case "time": {
              fields ??= timeFields(now, zone);
              return val(fields[segs[1]]);
            }
          }
          throw new Error(`unreachable path ${path}`);
        },
      };
    };

    // §4, §5.1 applicable policies
    const applicable = this.policies.map((p) => {
      if (p.agentMatch === null) return true;
      if (agent === null) return false;
      const byId = p.agentMatch.ids !== null && typeof agent.id === "string" && p.agentMatch.ids.some((pat) => matchPattern(pat, agent.id!));
      const byTag = p.agentMatch.tags !== null && Array.isArray(agent.tags) && agent.tags.some((t) => p.agentMatch!.tags!.includes(t));
      return byId || byTag;
    });

    // §5.2 candidates, and §3 the indeterminate paths
    interface Candidate { policy: number; rule: number; effect: Effect; res: [number, number]; act: [number, number]; count: number; reason: string | null }
    const candidates: Candidate[] = [];
    const indeterminate = new Set<string>();
    this.policies.forEach((p, pi) => {
      if (!applicable[pi]) return;
      const env = envFor(p.zone);
      const agentLevel = agent !== null && typeof agent.trust_level === "string" ? p.trustLevels.indexOf(agent.trust_level) : -1;
      p.rules.forEach((r, ri) => {
        const act = bestMatch(r.action, action);
        if (!act) return;
        const res = bestMatch(r.resource, resource);
        if (!res) return;
        if (r.trust !== null && !(agentLevel >= 0 && agentLevel >= r.trust)) return;
        const sink = new Set<string>();
        const tv = evalConditions(r.conditions, env, sink);
        if (tv === "indet") sink.forEach((x) => indeterminate.add(x));
        if (tv === true || (tv === "indet" && r.effect !== "allow")) {
          candidates.push({ policy: pi, rule: ri, effect: r.effect, res, act, count: r.conditionCount, reason: r.reason });
        }
      });
    });

    // §5.3 the winner
    candidates.sort((a, b) =>
      compareSpec(b.res, a.res) || compareSpec(b.act, a.act) || b.count - a.count ||
      EFFECT_RANK[a.effect] - EFFECT_RANK[b.effect] || a.policy - b.policy || a.rule - b.rule);
    const winner = candidates[0] ?? null;
    let effect: Effect;
    if (winner) effect = winner.effect;
    else {
      // §5.4
      const apps = this.policies.filter((_, i) => applicable[i]);
      effect = apps.length > 0 && apps.every((p) => p.defaultEffect === "allow") ? "allow" : "deny";
    }
    const sortedPaths = [...indeterminate].sort(compareCodePoints);
    const decision: RefDecision = {
      allowed: effect === "allow", effect,
      policy: winner ? winner.policy : null, rule: winner ? winner.rule : null,
      indeterminate: sortedPaths, rateLimit: null, reason: winner ? winner.reason : null, error: null,
    };
    if (effect !== "allow") return decision;

    // §7 rate limits, checked after a request is allowed
    const matching: Array<{ policy: number; index: number; limit: RateLimit; key: string }> = [];
    this.policies.forEach((p, pi) => {
      if (!applicable[pi]) return;
      p.rateLimits.forEach((l, li) => {
        if (!bestMatch(l.action, action) || !bestMatch(l.resource, resource)) return;
        matching.push({ policy: pi, index: li, limit: l, key: scopeKey(l, agent, context) });
      });
    });
    for (const m of matching) {
      const times = this.counts[m.policy][m.index].get(m.key) ?? [];
      const recent = times.filter((t) => now - t < m.limit.periodNs).length;
      if (recent >= m.limit.limit) {
        return { ...decision, allowed: false, effect: "deny", rateLimit: { policy: m.policy, index: m.index }, reason: m.limit.reason };
      }
    }
    for (const m of matching) {
      const counts = this.counts[m.policy][m.index];
      counts.set(m.key, [...(counts.get(m.key) ?? []), now]);
    }
    return decision;
  }
}

/**
 * §1a: a JavaScript value read as JSON.stringify reads it (toJSON, NaN and infinities as null,
 * undefined members dropped and undefined array elements as null), except that -0 stays -0
 * (every rule of the language treats it as 0 anyway: `==`, `<`, its text `0`).
 */
function asJson(v: unknown): Json | undefined {
  if (v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function") v = (v as { toJSON: () => unknown }).toJSON();
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (Array.isArray(v)) return v.map((e) => asJson(e) ?? null);
  if (typeof v === "object") {
    const out: { [k: string]: Json } = {};
    for (const [k, e] of Object.entries(v as object)) {
      const j = asJson(e);
      if (j !== undefined) out[k] = j;
    }
    return out;
  }
  return undefined; // undefined, functions, symbols
}

/** §1a: an agent is `{id, trust_level, tags}`, each optional, `id` and `trust_level` strings, `tags` an array of strings. */
function validAgent(a: unknown): boolean {
  if (a === null) return true;
  if (!isObject(a)) return false;
  return Object.entries(a).every(([k, v]) =>
    ((k === "id" || k === "trust_level") && typeof v === "string") ||
    (k === "tags" && Array.isArray(v) && v.every((t) => typeof t === "string")));
}

/** §7: the scope key of a request for a limit; requests with no value share NO_VALUE. */
function scopeKey(l: RateLimit, agent: RefAgent | null, context: { [k: string]: Json }): string {
  if (l.scope.t === "global") return "global";
  if (l.scope.t === "agent") return agent !== null && typeof agent.id === "string" ? JSON.stringify(agent.id) : NO_VALUE;
  let v: Json = context;
  for (const s of l.scope.segs) {
    if (!isObject(v) || !Object.prototype.hasOwnProperty.call(v, s)) return NO_VALUE;
    v = v[s];
  }
  if (Array.isArray(v) || isObject(v)) return NO_VALUE;
  if (typeof v === "number") return numberText(v);
  return JSON.stringify(v); // strings quoted, true/false, null
}

/** A plain JSON parser (RFC 8259) that reports the path of every duplicate member name. */
export function parseJsonText(text: string, duplicate: (path: Array<string | number>) => void): unknown {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const fail = (): never => {
    throw new SyntaxError(`bad JSON at ${i}`);
  };
  const value = (path: Array<string | number>): unknown => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const obj: Record<string, unknown> = {};
      const seen = new Set<string>();
      ws();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const k = str();
        ws();
        if (text[i++] !== ":") fail();
        if (seen.has(k)) duplicate([...path, k]);
        seen.add(k);
        obj[k] = value([...path, k]);
        ws();
        const d = text[i++];
        if (d === "}") return obj;
        if (d !== ",") fail();
      }
    }
    if (c === "[") {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value([...path, arr.length]));
        ws();
        const d = text[i++];
        if (d === "]") return arr;
        if (d !== ",") fail();
      }
    }
    if (c === '"') return str();
    const m = /^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|null)/.exec(text.slice(i));
    if (!m) fail();
    i += m![0].length;
    return JSON.parse(m![0]);
  };
  const str = (): string => {
    const m = /^"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/.exec(text.slice(i));
    if (!m) fail();
    i += m![0].length;
    return JSON.parse(m![0]) as string;
  };
  const v = value([]);
  ws();
  if (i !== text.length) fail();
  return v;
}
