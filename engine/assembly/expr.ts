// The expression form of conditions (policy-language.md §3): a longest-match
// lexer and a recursive-descent parser whose recursion is bounded by the
// nesting of parentheses and lists (at most MAX_NESTING), so no expression can
// exhaust the wasm stack. `NOT` chains and `AND`/`OR` chains are loops.

import { Arena, arenaAlloc } from "./memory";
import { Buf, bufNew, bufStr, bufBytes, bufByte, bufI64, bufU32, bytesIs, codePointCount, codeUnit } from "./bytes";
import { msg, errorHere } from "./errors";
import { parseNumber } from "./number";
import { compilePattern, Pattern } from "./pattern";
import { PathSet, contextPath, otherPath, sourceOf, S_TIME } from "./paths";
import { encodeString, V_NULL, V_TRUE, V_FALSE, V_NUMBER, V_ARRAY, sizeOf } from "./value";
import {
  Cond, Operand, newCond, newOperand, C_AND, C_OR, C_NOT, C_CMP, C_BARE,
  OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOT_IN, OP_MATCHES,
  O_VALUE, O_PATH, O_LIST, O_PAREN,
} from "./conditions";

export const MAX_NESTING: u32 = 64;

const K_EOF: u32 = 0;
const K_LPAREN: u32 = 1;
const K_RPAREN: u32 = 2;
const K_LBRACK: u32 = 3;
const K_RBRACK: u32 = 4;
const K_COMMA: u32 = 5;
const K_EQ: u32 = 6;
const K_NE: u32 = 7;
const K_LT: u32 = 8;
const K_LE: u32 = 9;
const K_GT: u32 = 10;
const K_GE: u32 = 11;
const K_AND: u32 = 12;
const K_OR: u32 = 13;
const K_NOT: u32 = 14;
const K_IN: u32 = 15;
const K_MATCHES: u32 = 16;
const K_TRUE: u32 = 17;
const K_FALSE: u32 = 18;
const K_NULL: u32 = 19;
const K_NUMBER: u32 = 20;
const K_STRING: u32 = 21;
const K_PATH: u32 = 22;

let arena: Arena = changetype<Arena>(0);
let paths: PathSet = changetype<PathSet>(0);
/** Set when a compiled expression reads `time.*`; the caller resets it. */
export let readsTime: bool = false;

let src: usize = 0;
let end: usize = 0;
let pos: usize = 0;
let failed: bool = false;

// The current token.
let kind: u32 = K_EOF;
let tokStart: usize = 0;
let tokLen: usize = 0;
let tokNum: f64 = 0;
let tokBang = false; // K_NOT spelled `!` (which cannot start `NOT IN`)
let strPtr: usize = 0; // decoded string literal
let strLen: usize = 0;

// Children of the n-ary nodes being built, as a stack shared by the nesting levels.
const stack: Buf = bufNew(256);

export function exprSetup(a: Arena, p: PathSet): void {
  arena = a;
  paths = p;
}

export function exprSetReadsTime(v: bool): void {
  readsTime = v;
}

/**
 * Compiles the expression text, reporting a load error at the current pointer
 * on the first problem. Returns null after an error.
 */
export function compileExpression(p: usize, n: usize): Cond | null {
  src = p;
  end = p + n;
  pos = p;
  failed = false;
  stack.len = 0;
  next();
  if (failed) return null;
  const c = parseOr(0);
  if (failed || c == null) return null;
  if (kind != K_EOF) {
    expected("`AND`, `OR` or the end of the expression");
    return null;
  }
  return c;
}

// ---------------------------------------------------------------------------
// Errors

function column(at: usize): i64 {
  return <i64>codePointCount(src, at - src) + 1;
}

function lexError(what: string, at: usize): void {
  if (failed) return;
  failed = true;
  kind = K_EOF;
  const m = msg();
  bufStr(m, "invalid expression: ");
  bufStr(m, what);
  bufStr(m, " at column ");
  bufI64(m, column(at));
  errorHere();
}

function expected(what: string): void {
  if (failed) return;
  failed = true;
  const m = msg();
  bufStr(m, "invalid expression: expected ");
  bufStr(m, what);
  bufStr(m, " at column ");
  bufI64(m, column(tokStart));
  if (kind == K_EOF) bufStr(m, ", found the end");
  else {
    bufStr(m, ", found `");
    bufBytes(m, tokStart, tokLen);
    bufByte(m, 96);
  }
  errorHere();
}

function pathError(what: string, p: usize, n: usize, hint: string): void {
  if (failed) return;
  failed = true;
  const m = msg();
  bufStr(m, what);
  bufStr(m, " `");
  bufBytes(m, p, n);
  bufStr(m, "` at column ");
  bufI64(m, column(p));
  bufStr(m, ": ");
  bufStr(m, hint);
  errorHere();
}

// ---------------------------------------------------------------------------
// Lexer

// @ts-ignore: decorator
@inline function isDigit(c: u32): bool {
  return c - 48 < 10;
}
// @ts-ignore: decorator
@inline function isIdentStart(c: u32): bool {
  return ((c | 32) - 97 < 26) || c == 95;
}
// @ts-ignore: decorator
@inline function isIdent(c: u32): bool {
  return isIdentStart(c) || isDigit(c);
}

function peek(at: usize): u32 {
  return at < end ? <u32>load<u8>(at) : 0;
}

function keyword(p: usize, n: usize, w: string): bool {
  if (n != <usize>w.length) return false;
  for (let i: usize = 0; i < n; i++) {
    if ((<u32>load<u8>(p + i) | 32) != codeUnit(w, i)) return false;
  }
  return true;
}

function next(): void {
  while (pos < end) {
    const c = load<u8>(pos);
    if (c != 32 && c != 9 && c != 10 && c != 13) break;
    pos++;
  }
  tokStart = pos;
  if (pos >= end) {
    kind = K_EOF;
    tokLen = 0;
    return;
  }
  const c = <u32>load<u8>(pos);
  const d = peek(pos + 1);
  let len: usize = 1;
  tokBang = false;
  if (c == 40) kind = K_LPAREN;
  else if (c == 41) kind = K_RPAREN;
  else if (c == 91) kind = K_LBRACK;
  else if (c == 93) kind = K_RBRACK;
  else if (c == 44) kind = K_COMMA;
  else if (c == 61) {
    if (d != 61) {
      lexError("`=` is not an operator (write `==`)", pos);
      return;
    }
    kind = K_EQ;
    len = 2;
  } else if (c == 33) {
    if (d == 61) {
      kind = K_NE;
      len = 2;
    } else {
      kind = K_NOT;
      tokBang = true;
    }
  } else if (c == 60) {
    if (d == 61) {
      kind = K_LE;
      len = 2;
    } else kind = K_LT;
  } else if (c == 62) {
    if (d == 61) {
      kind = K_GE;
      len = 2;
    } else kind = K_GT;
  } else if (c == 38) {
    if (d != 38) {
      lexError("`&` is not an operator (write `&&` or `AND`)", pos);
      return;
    }
    kind = K_AND;
    len = 2;
  } else if (c == 124) {
    if (d != 124) {
      lexError("`|` is not an operator (write `||` or `OR`)", pos);
      return;
    }
    kind = K_OR;
    len = 2;
  } else if (c == 39 || c == 34) {
    lexString(c);
    return;
  } else if (c == 45 || isDigit(c)) {
    lexNumber();
    return;
  } else if (isIdentStart(c)) {
    lexWord();
    return;
  } else {
    const m = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    tokLen = m;
    failed = true;
    kind = K_EOF;
    const e = msg();
    bufStr(e, "invalid expression: unexpected character `");
    bufBytes(e, pos, m);
    bufStr(e, "` at column ");
    bufI64(e, column(pos));
    errorHere();
    return;
  }
  tokLen = len;
  pos += len;
}

function lexString(quote: u32): void {
  let q = pos + 1;
  let escaped = false;
  while (true) {
    if (q >= end) {
      lexError("unterminated string", tokStart);
      return;
    }
    const c = <u32>load<u8>(q);
    if (c == quote) break;
    if (c == 92) {
      escaped = true;
      q++;
      if (q >= end) {
        lexError("unterminated string", tokStart);
        return;
      }
    }
    q++;
  }
  // Inside a string a backslash makes the next character literal; no other escapes.
  if (!escaped) {
    strPtr = pos + 1;
    strLen = q - pos - 1;
  } else {
    strPtr = arenaAlloc(arena, q - pos);
    let n: usize = 0;
    for (let r = pos + 1; r < q; r++) {
      let c = load<u8>(r);
      if (c == 92) c = load<u8>(++r);
      store<u8>(strPtr + n++, c);
    }
    strLen = n;
  }
  kind = K_STRING;
  tokLen = q + 1 - pos;
  pos = q + 1;
}

function lexNumber(): void {
  let q = pos;
  if (peek(q) == 45) q++;
  if (!isDigit(peek(q))) {
    lexError("`-` must start a number", pos);
    return;
  }
  while (isDigit(peek(q))) q++;
  if (peek(q) == 46 && isDigit(peek(q + 1))) {
    q++;
    while (isDigit(peek(q))) q++;
  }
  if ((peek(q) | 32) == 101) {
    let r = q + 1;
    if (peek(r) == 43 || peek(r) == 45) r++;
    if (isDigit(peek(r))) {
      while (isDigit(peek(r))) r++;
      q = r;
    }
  }
  kind = K_NUMBER;
  tokNum = parseNumber(pos, q - pos);
  tokLen = q - pos;
  pos = q;
}

function lexWord(): void {
  let q = pos;
  let segments: u32 = 0;
  while (true) {
    while (isIdent(peek(q))) q++;
    segments++;
    if (peek(q) == 46 && isIdentStart(peek(q + 1))) q++;
    else break;
  }
  const n = q - pos;
  kind = K_PATH;
  if (segments == 1) {
    if (keyword(pos, n, "and")) kind = K_AND;
    else if (keyword(pos, n, "or")) kind = K_OR;
    else if (keyword(pos, n, "not")) kind = K_NOT;
    else if (keyword(pos, n, "in")) kind = K_IN;
    else if (keyword(pos, n, "matches")) kind = K_MATCHES;
    else if (keyword(pos, n, "true")) kind = K_TRUE;
    else if (keyword(pos, n, "false")) kind = K_FALSE;
    else if (keyword(pos, n, "null")) kind = K_NULL;
  }
  tokLen = n;
  pos = q;
}

// ---------------------------------------------------------------------------
// Parser

function naryNode(k: u32, mark: usize): Cond {
  const count = (stack.len - mark) >> 2;
  const children = arenaAlloc(arena, count << 2);
  memory.copy(children, stack.ptr + mark, count << 2);
  stack.len = mark;
  return newCond(arena, k, 0, children, count, 0);
}

function parseOr(depth: u32): Cond | null {
  const first = parseAnd(depth);
  if (first == null || kind != K_OR) return first;
  const mark = stack.len;
  bufU32(stack, changetype<u32>(first));
  while (kind == K_OR) {
    next();
    const c = parseAnd(depth);
    if (c == null) return null;
    bufU32(stack, changetype<u32>(c));
  }
  return naryNode(C_OR, mark);
}

function parseAnd(depth: u32): Cond | null {
  const first = parseNot(depth);
  if (first == null || kind != K_AND) return first;
  const mark = stack.len;
  bufU32(stack, changetype<u32>(first));
  while (kind == K_AND) {
    next();
    const c = parseNot(depth);
    if (c == null) return null;
    bufU32(stack, changetype<u32>(c));
  }
  return naryNode(C_AND, mark);
}

function parseNot(depth: u32): Cond | null {
  // NOT NOT x is x in Kleene logic, so a chain keeps only its parity.
  let negate = false;
  while (kind == K_NOT && !failed) {
    negate = !negate;
    next();
  }
  if (failed) return null;
  const c = parseCompare(depth);
  if (c == null || !negate) return c;
  return newCond(arena, C_NOT, 0, changetype<usize>(c), 0, 0);
}

function comparisonOperator(): u32 {
  if (kind == K_EQ) return OP_EQ;
  if (kind == K_NE) return OP_NE;
  if (kind == K_LT) return OP_LT;
  if (kind == K_LE) return OP_LE;
  if (kind == K_GT) return OP_GT;
  if (kind == K_GE) return OP_GE;
  if (kind == K_IN) return OP_IN;
  if (kind == K_MATCHES) return OP_MATCHES;
  return 0;
}

function parseCompare(depth: u32): Cond | null {
  const left = parseOperand(depth);
  if (left == null) return null;
  let op = comparisonOperator();
  if (op == 0 && kind == K_NOT && !tokBang) {
    next();
    if (failed) return null;
    if (kind != K_IN) {
      expected("`IN` after `NOT`");
      return null;
    }
    op = OP_NOT_IN;
  }
  if (op == 0) return newCond(arena, C_BARE, 0, changetype<usize>(left), 0, 0);
  next();
  if (failed) return null;
  const literalPattern = op == OP_MATCHES && kind == K_STRING;
  const patternAt = tokStart;
  const right = parseOperand(depth);
  if (right == null) return null;
  let extra: usize = 0;
  if (literalPattern) {
    const pt = changetype<Pattern>(arenaAlloc(arena, offsetof<Pattern>()));
    // The operand holds the literal as an encoded string: pattern text starts after its 5-byte header.
    if (!compilePattern(arena, right.ptr + 5, load<u32>(right.ptr, 1), pt)) {
      failed = true;
      const m = msg();
      bufStr(m, "invalid expression: the pattern after `MATCHES` at column ");
      bufI64(m, column(patternAt));
      bufStr(m, " ends with a lone `\\` (write `\\\\` for a backslash)");
      errorHere();
      return null;
    }
    extra = changetype<usize>(pt);
  }
  return newCond(arena, C_CMP, op, changetype<usize>(left), changetype<usize>(right), extra);
}

function constantOperand(tag: u32): Operand {
  const v = arenaAlloc(arena, tag == V_NUMBER ? 9 : 1);
  store<u8>(v, <u8>tag);
  if (tag == V_NUMBER) store<f64>(v, tokNum, 1);
  return newOperand(arena, O_VALUE, 0, v, 0);
}

function parseOperand(depth: u32): Operand | null {
  if (failed) return null;
  let o: Operand | null = null;
  if (kind == K_NUMBER) o = constantOperand(V_NUMBER);
  else if (kind == K_TRUE) o = constantOperand(V_TRUE);
  else if (kind == K_FALSE) o = constantOperand(V_FALSE);
  else if (kind == K_NULL) o = constantOperand(V_NULL);
  else if (kind == K_STRING) o = newOperand(arena, O_VALUE, 0, encodeString(arena, strPtr, strLen), 0);
  else if (kind == K_PATH) o = pathOperand();
  else if (kind == K_LPAREN) {
    if (depth >= MAX_NESTING) {
      lexError("parentheses and lists nest more than 64 deep", tokStart);
      return null;
    }
    next();
    if (failed) return null;
    const inner = parseOr(depth + 1);
    if (inner == null) return null;
    if (kind != K_RPAREN) {
      expected("`)`");
      return null;
    }
    o = newOperand(arena, O_PAREN, 0, changetype<usize>(inner), 0);
  } else if (kind == K_LBRACK) {
    if (depth >= MAX_NESTING) {
      lexError("parentheses and lists nest more than 64 deep", tokStart);
      return null;
    }
    return parseList(depth + 1);
  } else {
    expected("an operand (a number, a string, `true`, `false`, `null`, a path, a list or a parenthesised condition)");
    return null;
  }
  if (o == null) return null;
  next();
  return failed ? null : o;
}

function parseList(depth: u32): Operand | null {
  next();
  if (failed) return null;
  const mark = stack.len;
  let allConstant = true;
  if (kind != K_RBRACK) {
    while (true) {
      const e = parseOperand(depth);
      if (e == null) return null;
      if (e.kind != O_VALUE) allConstant = false;
      bufU32(stack, changetype<u32>(e));
      if (kind == K_COMMA) {
        next();
        if (failed) return null;
        continue;
      }
      if (kind == K_RBRACK) break;
      expected("`,` or `]`");
      return null;
    }
  }
  const count = <u32>((stack.len - mark) >> 2);
  let o: Operand;
  if (allConstant) {
    // Fold a list of constants into one encoded array.
    let bytes: usize = 0;
    for (let i: u32 = 0; i < count; i++) {
      bytes += sizeOf(changetype<Operand>(<usize>load<u32>(stack.ptr + mark + (<usize>i << 2))).ptr);
    }
    const v = arenaAlloc(arena, 9 + bytes);
    store<u8>(v, <u8>V_ARRAY);
    store<u32>(v, count, 1);
    store<u32>(v, <u32>bytes, 5);
    let q = v + 9;
    for (let i: u32 = 0; i < count; i++) {
      const e = changetype<Operand>(<usize>load<u32>(stack.ptr + mark + (<usize>i << 2))).ptr;
      const size = sizeOf(e);
      memory.copy(q, e, size);
      q += size;
    }
    stack.len = mark;
    o = newOperand(arena, O_VALUE, 0, v, 0);
  } else {
    const items = arenaAlloc(arena, <usize>count << 2);
    memory.copy(items, stack.ptr + mark, <usize>count << 2);
    stack.len = mark;
    o = newOperand(arena, O_LIST, count, items, 0);
  }
  next();
  return failed ? null : o;
}

function pathOperand(): Operand | null {
  const p = tokStart;
  const n = tokLen;
  let dot: usize = 0;
  while (dot < n && load<u8>(p + dot) != 46) dot++;
  if (bytesIs(p, dot, "context")) {
    if (dot == n) {
      pathError("bare path", p, n, "a context path names a member, as in `context.amount`");
      return null;
    }
    const ref = contextPath(arena, paths, p + dot + 1, n - dot - 1);
    return newOperand(arena, O_PATH, ref, 0, 0);
  }
  const isAgent = bytesIs(p, dot, "agent");
  const isRequest = bytesIs(p, dot, "request");
  const isTime = bytesIs(p, dot, "time");
  if (!isAgent && !isRequest && !isTime) {
    pathError("unknown path", p, n, "a path starts with `context.`, `agent.`, `request.` or `time.`");
    return null;
  }
  let source: u32 = 0;
  let rest = dot + 1;
  while (rest < n && load<u8>(p + rest) != 46) rest++;
  if (dot < n && rest == n) source = sourceOf(p, dot, p + dot + 1, n - dot - 1);
  if (source == 0) {
    pathError(
      "unknown path", p, n,
      isAgent ? "the agent's fields are `agent.id`, `agent.trust_level` and `agent.tags`"
        : isRequest ? "the request's fields are `request.action` and `request.resource`"
        : "the time fields are `time.year`, `time.month`, `time.day`, `time.hour`, `time.minute`, `time.weekday` and `time.epoch`",
    );
    return null;
  }
  if (source >= S_TIME) readsTime = true;
  return newOperand(arena, O_PATH, otherPath(arena, paths, p, n, source), 0, source);
}
