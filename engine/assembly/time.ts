// Time: RFC 3339 request times (policy-language.md §1a), the `time.*` fields
// (§3) from epoch milliseconds and a UTC offset, and the IANA zone names.

import { ZONE_COUNT, ZONE_BLOCK, ZONE_BLOB, ZONE_RESTARTS } from "./zones";
import { bytesCompare } from "./bytes";

// The zone name `zoneName` decoded last (no name is longer than 64 bytes).
const zoneText: usize = memory.data(64);
let zoneTextLen: usize = 0;

/** Decodes name `i` into zoneText (its block's names one after another from the block's start). */
export function zoneName(i: u32): usize {
  let q = ZONE_BLOB + <usize>load<u16>(ZONE_RESTARTS + (<usize>(i / ZONE_BLOCK) << 1));
  zoneTextLen = load<u8>(q);
  memory.copy(zoneText, q + 1, zoneTextLen);
  q += 1 + zoneTextLen;
  for (let k = i % ZONE_BLOCK; k > 0; k--) {
    const shared = <usize>load<u8>(q);
    const rest = <usize>load<u8>(q + 1);
    memory.copy(zoneText + shared, q + 2, rest);
    zoneTextLen = shared + rest;
    q += 2 + rest;
  }
  return zoneText;
}

/** Length of the name the last `zoneName` decoded. */
export function zoneNameLen(): usize {
  return zoneTextLen;
}

/** Index of the zone name in the sorted tzdata list, or -1. */
export function zoneIndex(p: usize, n: usize): i32 {
  // The last block whose first name is not after the name sought.
  let lo: i32 = 0;
  let hi: i32 = <i32>((ZONE_COUNT + ZONE_BLOCK - 1) / ZONE_BLOCK) - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    const first = ZONE_BLOB + <usize>load<u16>(ZONE_RESTARTS + (<usize>mid << 1));
    if (bytesCompare(first + 1, load<u8>(first), p, n) <= 0) lo = mid;
    else hi = mid - 1;
  }
  const start = <u32>lo * ZONE_BLOCK;
  const stop = min<u32>(start + ZONE_BLOCK, ZONE_COUNT);
  for (let i = start; i < stop; i++) {
    const name = zoneName(i);
    if (bytesCompare(name, zoneTextLen, p, n) == 0) return <i32>i;
  }
  return -1;
}

// Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
export function daysFromCivil(y: i64, m: i64, d: i64): i64 {
  y -= m <= 2 ? 1 : 0;
  const era = (y >= 0 ? y : y - 399) / 400;
  const yoe = y - era * 400;
  const mp = m > 2 ? m - 3 : m + 9;
  const doy = (153 * mp + 2) / 5 + d - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// Civil fields of the last call to `civilFromDays`.
export let civilYear: i64 = 0;
export let civilMonth: i64 = 0;
export let civilDay: i64 = 0;

export function civilFromDays(z: i64): void {
  z += 719468;
  const era = (z >= 0 ? z : z - 146096) / 146097;
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  civilDay = doy - (153 * mp + 2) / 5 + 1;
  civilMonth = mp < 10 ? mp + 3 : mp - 9;
  civilYear = yoe + era * 400 + (civilMonth <= 2 ? 1 : 0);
}

function isLeap(y: i64): bool {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

function daysInMonth(y: i64, m: i64): i64 {
  if (m == 2) return isLeap(y) ? 29 : 28;
  return m == 4 || m == 6 || m == 9 || m == 11 ? 30 : 31;
}

function digits(p: usize, n: usize): i64 {
  let v: i64 = 0;
  for (let i: usize = 0; i < n; i++) {
    const d = <u32>load<u8>(p + i) - 48;
    if (d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

function expect(p: usize, c: u32): bool {
  return <u32>load<u8>(p) == c;
}

// An instant is whole seconds since the epoch (i64) and a fraction of a
// second in attoseconds (u64, below 10^18): exact for RFC 3339 fractions of up
// to 18 digits, so no window or time field is ever off by a rounding.
export const ATTOS_PER_SECOND: u64 = 1_000_000_000_000_000_000;

// The instant `parseTime` read.
export let parsedSeconds: i64 = 0;
export let parsedFraction: u64 = 0;

/**
 * Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (upper-case `T` and `Z`)
 * into parsedSeconds/parsedFraction; false when the text is not such a time.
 * A leap second (`:60`) reads as the second after `:59`. Fraction digits past
 * the 18th (below an attosecond) are dropped.
 */
export function parseTime(p: usize, n: usize): bool {
  if (n < 20) return false;
  const year = digits(p, 4);
  const month = digits(p + 5, 2);
  const day = digits(p + 8, 2);
  const hour = digits(p + 11, 2);
  const minute = digits(p + 14, 2);
  const second = digits(p + 17, 2);
  if (!expect(p + 4, 45) || !expect(p + 7, 45) || !expect(p + 10, 84) || !expect(p + 13, 58) || !expect(p + 16, 58)) return false;
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59) return false;
  if (second < 0 || second > 60 || day > daysInMonth(year, month)) return false;
  let i: usize = 19;
  let fraction: u64 = 0;
  if (load<u8>(p + i) == 46) {
    i++;
    const start = i;
    let scale: u64 = ATTOS_PER_SECOND / 10;
    while (i < n) {
      const d = <u32>load<u8>(p + i) - 48;
      if (d > 9) break;
      fraction += <u64>d * scale;
      scale /= 10;
      i++;
    }
    if (i == start) return false;
  }
  if (i >= n) return false;
  let offsetMinutes: i64 = 0;
  const z = <u32>load<u8>(p + i);
  if (z == 90) {
    if (i + 1 != n) return false;
  } else if (z == 43 || z == 45) {
    if (i + 6 != n || !expect(p + i + 3, 58)) return false;
    const oh = digits(p + i + 1, 2);
    const om = digits(p + i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
    offsetMinutes = oh * 60 + om;
    if (z == 45) offsetMinutes = -offsetMinutes;
  } else return false;
  const days = daysFromCivil(year, month, day);
  parsedSeconds = days * 86400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  parsedFraction = fraction;
  return true;
}

// The `time.*` fields, indexed as the expression compiler numbers them.
export const T_YEAR: u32 = 0;
export const T_MONTH: u32 = 1;
export const T_DAY: u32 = 2;
export const T_HOUR: u32 = 3;
export const T_MINUTE: u32 = 4;
export const T_WEEKDAY: u32 = 5;
export const T_EPOCH: u32 = 6;
export const TIME_FIELDS: u32 = 7;

/** Writes the seven fields as f64s at `out`, read at `offsetSeconds` east of UTC. */
export function timeFields(epochSeconds: i64, offsetSeconds: i32, out: usize): void {
  const local = epochSeconds + <i64>offsetSeconds;
  let days = local / 86400;
  let secondOfDay = local % 86400;
  if (secondOfDay < 0) {
    secondOfDay += 86400;
    days--;
  }
  civilFromDays(days);
  store<f64>(out, <f64>civilYear, T_YEAR << 3);
  store<f64>(out, <f64>civilMonth, T_MONTH << 3);
  store<f64>(out, <f64>civilDay, T_DAY << 3);
  store<f64>(out, <f64>(secondOfDay / 3600), T_HOUR << 3);
  store<f64>(out, <f64>((secondOfDay / 60) % 60), T_MINUTE << 3);
  // 1970-01-01 was a Thursday (ISO 4).
  let wd = (days + 3) % 7;
  if (wd < 0) wd += 7;
  store<f64>(out, <f64>(wd + 1), T_WEEKDAY << 3);
  store<f64>(out, <f64>epochSeconds, T_EPOCH << 3);
}

/** Whether instant a is before instant b. */
// @ts-ignore: decorator
@inline export function before(as: i64, af: u64, bs: i64, bf: u64): bool {
  return as < bs || (as == bs && af < bf);
}

/** a + seconds, saturating (a period longer than any time span acts as forever). */
// @ts-ignore: decorator
@inline export function addSeconds(a: i64, seconds: i64): i64 {
  return a > i64.MAX_VALUE - seconds ? i64.MAX_VALUE : a + seconds;
}
