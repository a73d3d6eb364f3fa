// Test entry for assembly/number.ts: the test writes text into scratch() and
// calls parse(len), or calls format(x) and reads the text back from scratch().

import { parseNumber, formatNumber } from "../../assembly/number";

const SCRATCH: usize = memory.data(16384);

export function scratch(): usize {
  return SCRATCH;
}

export function parse(len: usize): f64 {
  return parseNumber(SCRATCH, len);
}

export function format(x: f64): usize {
  return formatNumber(x, SCRATCH);
}
