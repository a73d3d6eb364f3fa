// Compiled conditions (policy-language.md §3): both the object form and the
// expression form compile to one tree of these nodes, evaluated with
// three-valued logic by eval.ts.

import { Arena, arenaAlloc } from "./memory";

// Truth values.
export const FALSE: u32 = 0;
export const TRUE: u32 = 1;
export const INDETERMINATE: u32 = 2;

// Condition kinds.
export const C_AND: u32 = 1; // a: children (u32 pointers), b: count
export const C_OR: u32 = 2; // a: children, b: count
export const C_NOT: u32 = 3; // a: child
export const C_CMP: u32 = 4; // op, a: left operand, b: right operand (0 if none), extra
export const C_BARE: u32 = 5; // a: operand that must be a boolean

// Comparison operators. The first eight are the expression operators; the
// rest are the object form's own matching rules.
export const OP_EQ: u32 = 1;
export const OP_NE: u32 = 2;
export const OP_LT: u32 = 3;
export const OP_LE: u32 = 4;
export const OP_GT: u32 = 5;
export const OP_GE: u32 = 6;
export const OP_IN: u32 = 7;
export const OP_NOT_IN: u32 = 8;
export const OP_MATCHES: u32 = 9; // extra: compiled Pattern when the right side is a literal
export const OP_GLOB_VALUE: u32 = 10; // object-form string: extra = Pattern
export const OP_ANY_OF: u32 = 11; // object-form array: extra = AnyOf list
export const OP_GLOB: u32 = 12; // `glob` operator: extra = Pattern
export const OP_EXISTS: u32 = 13; // `exists: true`
export const OP_ABSENT: u32 = 14; // `exists: false`

@unmanaged export class Cond {
  kind: u32;
  op: u32;
  a: usize;
  b: usize;
  extra: usize;
  // A comparison of a context slot with a number (`context.amount <= 50`), the
  // commonest condition, evaluated without the general operand machinery:
  // the slot's index + 1, or 0 (set by eval.ts `specialize`).
  slotNumber: u32;
}

// Operand kinds.
export const O_VALUE: u32 = 1; // ptr: an encoded constant
export const O_PATH: u32 = 2; // ref: PathRef, source: what it reads (0: a context slot)
export const O_LIST: u32 = 3; // ptr: element operands (u32 pointers), ref: count
export const O_PAREN: u32 = 4; // ptr: Cond

@unmanaged export class Operand {
  kind: u32;
  ref: u32;
  ptr: usize;
  source: u32;
}

// An any-of list (object form): count, then per alternative (is glob, pointer):
// a Pattern for a glob, an encoded value for a literal.

export function newCond(a: Arena, kind: u32, op: u32, x: usize, y: usize, extra: usize): Cond {
  const c = changetype<Cond>(arenaAlloc(a, offsetof<Cond>()));
  c.kind = kind;
  c.op = op;
  c.a = x;
  c.b = y;
  c.extra = extra;
  c.slotNumber = 0;
  return c;
}

export function newOperand(a: Arena, kind: u32, ref: u32, ptr: usize, source: u32): Operand {
  const o = changetype<Operand>(arenaAlloc(a, offsetof<Operand>()));
  o.kind = kind;
  o.ref = ref;
  o.ptr = ptr;
  o.source = source;
  return o;
}
