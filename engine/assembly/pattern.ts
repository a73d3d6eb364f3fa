// Glob patterns (policy-language.md §2): `*` any sequence (including `/` and
// the empty one), `?` exactly one code point, `\` makes the next character
// literal; case-sensitive, over Unicode code points.
//
// A pattern is compiled to tokens: its literal characters as UTF-8 bytes, with
// `*` as 0xFF and `?` as 0xFE — two bytes that never occur in UTF-8 — so the
// matcher needs no escape handling. Runs of `*` collapse to one (same
// meaning). Matching is the classic iterative algorithm that backtracks only
// to the most recent `*`: O(pattern × text) at worst and linear for patterns
// like `*a*a*a*b`, never exponential.

import { Arena, arenaAlloc } from "./memory";
import { bytesEqual, utf8Len } from "./bytes";

export const STAR: u32 = 0xff;
export const QMARK: u32 = 0xfe;

export const P_EXACT: u32 = 0; // no wildcard: the literal text
export const P_PREFIX: u32 = 1; // a literal then only `*`s
export const P_ANY: u32 = 2; // only `*`s
export const P_GENERAL: u32 = 3;

@unmanaged export class Pattern {
  kind: u32;
  tok: usize; // tokens; for P_EXACT and the start of P_PREFIX, the literal bytes
  tokLen: u32;
  prefixLen: u32; // bytes of literal text before the first wildcard
  lit: u32; // literal code points (specificity)
  wild: u32; // wildcards as written (specificity)
  src: usize; // the pattern as written
  srcLen: u32;
}

/**
 * Compiles the pattern text into `pt`, allocating tokens in `a`. Returns false
 * when the text ends with a lone `\` (the only malformed pattern).
 */
export function compilePattern(a: Arena, p: usize, n: usize, pt: Pattern): bool {
  const tok = arenaAlloc(a, n);
  let t: usize = 0;
  let lit: u32 = 0;
  let wild: u32 = 0;
  let prefixLen: i32 = -1;
  let onlyStarsAfterPrefix = true;
  let i: usize = 0;
  while (i < n) {
    let c = <u32>load<u8>(p + i);
    if (c == 42 || c == 63) {
      wild++;
      if (prefixLen < 0) prefixLen = <i32>t;
      if (c == 63) onlyStarsAfterPrefix = false;
      if (c == 42) {
        if (t == 0 || <u32>load<u8>(tok + t - 1) != STAR) store<u8>(tok + t++, <u8>STAR);
      } else store<u8>(tok + t++, <u8>QMARK);
      i++;
      continue;
    }
    if (c == 92) {
      if (i + 1 >= n) return false;
      i++;
      c = <u32>load<u8>(p + i);
    }
    // A literal code point, copied whole (byte by byte: memory.copy is a call, and most are one byte).
    const end = i + utf8Len(c);
    store<u8>(tok + t++, <u8>c);
    for (i++; i < end; i++) store<u8>(tok + t++, load<u8>(p + i));
    lit++;
    if (prefixLen >= 0) onlyStarsAfterPrefix = false;
  }
  pt.tok = tok;
  pt.tokLen = <u32>t;
  pt.lit = lit;
  pt.wild = wild;
  pt.src = p;
  pt.srcLen = <u32>n;
  if (wild == 0) {
    pt.kind = P_EXACT;
    pt.prefixLen = <u32>t;
  } else {
    pt.prefixLen = <u32>prefixLen;
    if (!onlyStarsAfterPrefix) pt.kind = P_GENERAL;
    else pt.kind = prefixLen == 0 ? P_ANY : P_PREFIX;
  }
  return true;
}

/** Whether the pattern text is well formed (no trailing lone `\`). */
export function patternValid(p: usize, n: usize): bool {
  let i: usize = 0;
  while (i < n) {
    if (load<u8>(p + i) == 92) {
      if (i + 1 >= n) return false;
      i += 2;
    } else i++;
  }
  return true;
}

export function patternMatches(pt: Pattern, s: usize, n: usize): bool {
  const kind = pt.kind;
  if (kind == P_EXACT) return bytesEqual(pt.tok, pt.tokLen, s, n);
  if (kind == P_ANY) return true;
  if (kind == P_PREFIX) {
    const k = <usize>pt.prefixLen;
    return n >= k && (k == 0 || memory.compare(pt.tok, s, k) == 0);
  }
  return globMatch(pt.tok, pt.tokLen, s, n);
}

/** Matches compiled tokens against UTF-8 text. */
export function globMatch(p: usize, pn: usize, s: usize, sn: usize): bool {
  let pi: usize = 0;
  let si: usize = 0;
  let starP: isize = -1; // token index just after the last `*`
  let starS: usize = 0; // text index that `*` is currently taken to end at
  while (si < sn) {
    if (pi < pn) {
      const c = <u32>load<u8>(p + pi);
      if (c == STAR) {
        pi++;
        starP = <isize>pi;
        starS = si;
        continue;
      }
      if (c == QMARK) {
        si += utf8Len(load<u8>(s + si));
        pi++;
        continue;
      }
      if (c == <u32>load<u8>(s + si)) {
        pi++;
        si++;
        continue;
      }
    }
    if (starP < 0) return false;
    // Let the last `*` take one more code point and retry from there.
    starS += utf8Len(load<u8>(s + starS));
    si = starS;
    pi = <usize>starP;
  }
  while (pi < pn && <u32>load<u8>(p + pi) == STAR) pi++;
  return pi == pn && si == sn;
}

/** Orders specificities: positive when (litA, wildA) is more specific than (litB, wildB). */
// @ts-ignore: decorator
@inline export function compareSpecificity(litA: u32, wildA: u32, litB: u32, wildB: u32): i32 {
  if (litA != litB) return litA > litB ? 1 : -1;
  if (wildA != wildB) return wildA < wildB ? 1 : -1;
  return 0;
}
