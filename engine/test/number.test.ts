// assembly/number.ts against V8: formatNumber must equal String(x) byte for
// byte, parseNumber must give exactly the bits of Number(text). The harness is
// compiled here, in memory, with the engine's own flags.
//
// Random inputs come from a seeded PRNG; the seed is printed and can be fixed
// with NUMBER_TEST_SEED=<u32> to reproduce a failure.

import { describe, it, expect, beforeAll } from "vitest";
import asc from "assemblyscript/dist/asc.js";
import { fileURLToPath } from "node:url";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";

const ENGINE_DIR = fileURLToPath(new URL("..", import.meta.url));
const SCRATCH_SIZE = 16384;
const RANDOM_DOUBLES = 1_000_000;

const SEED = process.env.NUMBER_TEST_SEED !== undefined
  ? Number(process.env.NUMBER_TEST_SEED) >>> 0
  : (Math.random() * 2 ** 32) >>> 0;

interface Harness {
  memory: WebAssembly.Memory;
  scratch(): number;
  parse(len: number): number;
  format(x: number): number;
}

let harness: Harness;
let scratchPtr = 0;
let bytes = new Uint8Array(0);

function view(): Uint8Array {
  if (bytes.buffer !== harness.memory.buffer) bytes = new Uint8Array(harness.memory.buffer);
  return bytes;
}

function parseText(text: string): number {
  if (text.length > SCRATCH_SIZE) throw new Error(`test input longer than scratch: ${text.length}`);
  const b = view();
  for (let i = 0; i < text.length; i++) b[scratchPtr + i] = text.charCodeAt(i);
  return harness.parse(text.length);
}

function formatText(x: number): string {
  const n = harness.format(x);
  const b = view();
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[scratchPtr + i]);
  return s;
}

/** Whether format(x) wrote exactly the characters of `expected` (no string built). */
function formatMatches(x: number, expected: string): boolean {
  const n = harness.format(x);
  if (n !== expected.length) return false;
  const b = view();
  for (let i = 0; i < n; i++) if (b[scratchPtr + i] !== expected.charCodeAt(i)) return false;
  return true;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const u64 = new BigUint64Array(f64.buffer);

function bitsOf(x: number): string {
  f64[0] = x;
  return "0x" + u64[0].toString(16).padStart(16, "0");
}

function fromBits(hi: number, lo: number): number {
  u32[1] = hi;
  u32[0] = lo;
  return f64[0];
}

function fromBigBits(b: bigint): number {
  u64[0] = b;
  return f64[0];
}

/** The double next to x (toward +Infinity for up, else toward -Infinity), for finite x != 0 or +-0. */
function nextDouble(x: number, up: boolean): number {
  if (x === 0) return up ? 5e-324 : -5e-324;
  f64[0] = x;
  u64[0] += (x > 0) === up ? 1n : -1n;
  return f64[0];
}

/** xoshiro128** (Blackman & Vigna), seeded through splitmix32: reproducible u32 stream. */
function makeRandom(seed: number): () => number {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix(), b = splitmix(), c = splitmix(), d = splitmix();
  return (): number => {
    const result = Math.imul(((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25)), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    return result;
  };
}

const SPECIAL_VALUES: number[] = [
  0, -0, 5e-324, -5e-324, 1e-323, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE,
  2.2250738585072014e-308, 2.225073858507201e-308, 2 ** 53, 2 ** 53 - 1, 2 ** 53 + 2, -(2 ** 53),
  2 ** 52, 2 ** 63, 2 ** 64, 2 ** -1022, 2 ** -1074, 2 ** 1023,
  1e21, 1e-7, 1e-6, 1e20, 1e22, 1e23, 9.999999999999999e22, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, Math.PI, Math.E,
  1, -1, 1.5, 123, 0.001, 100, 123456789012345680000, 1.7976931348623157e308,
  Infinity, -Infinity, NaN,
];

/** Doubles for the format and round-trip tests: mostly uniform bit patterns, plus "human" values. */
function makeDoubles(random: () => number, count: number): number[] {
  const out: number[] = [];
  const push = (x: number): void => {
    out.push(x);
    if (Number.isFinite(x)) out.push(nextDouble(x, true), nextDouble(x, false));
  };
  for (const x of SPECIAL_VALUES) push(x);
  for (let p = -324; p <= 308; p++) push(Number(`1e${p}`));
  for (let p = -1074; p <= 1023; p++) push(2 ** p);
  const pow10 = (n: number): number => Number(`1e${n}`);
  while (out.length < count) {
    const kind = random() % 16;
    const sign = random() & 1 ? -1 : 1;
    let x: number;
    if (kind < 10) {
      // Uniform 64-bit pattern.
      x = fromBits(random(), random());
      if (Number.isNaN(x)) continue;
    } else if (kind === 10) {
      // Random integer of 1 to 22 digits.
      x = sign * Math.floor((random() / 2 ** 32) * pow10(1 + (random() % 22)));
    } else if (kind === 11) {
      // k / 10^n: a short decimal, as people write them.
      const k = random() % 10 ** (1 + (random() % 9));
      x = sign * Number(`${k}e-${random() % 30}`);
    } else if (kind === 12) {
      // Subnormal.
      x = sign * fromBits(random() & 0xfffff, random());
    } else if (kind === 13) {
      // Few significant digits at any magnitude.
      x = sign * Number(`${1 + (random() % 999)}e${(random() % 640) - 326}`);
    } else if (kind === 14) {
      // Integers near 2^53 and beyond.
      x = sign * (2 ** (50 + (random() % 20)) + (random() % 4096) - 2048);
    } else {
      // Neighbours of a power of ten, a power of two, or a threshold of the layout.
      const base = random() & 1 ? pow10((random() % 632) - 323) : 2 ** ((random() % 2098) - 1074);
      x = sign * (random() & 1 ? nextDouble(base, true) : nextDouble(base, false));
    }
    push(x);
  }
  return out;
}

beforeAll(async () => {
  let wasm: Uint8Array | null = null;
  const stderr = asc.createMemoryStream();
  const { error } = await asc.main(
    [
      "test/harness/number.ts",
      "--baseDir", ENGINE_DIR,
      "--runtime", "stub", "-O3", "--noAssert", "--use", "abort=",
      "--outFile", "harness.wasm",
    ],
    {
      // asconfig.json is not read, so exactly the flags above apply (its
      // targets or entries must not leak into the harness).
      async readFile(name: string, baseDir: string) {
        if (name === "asconfig.json") return null;
        return readFile(resolve(baseDir, name), "utf8").catch(() => null);
      },
      writeFile(name: string, contents: Uint8Array | string) {
        if (name.endsWith(".wasm") && typeof contents !== "string") wasm = contents;
      },
      stdout: asc.createMemoryStream(),
      stderr,
    },
  );
  if (error) throw new Error(`asc failed: ${error.message}\n${stderr.toString()}`);
  if (wasm === null) throw new Error("asc wrote no .wasm");
  const module = await WebAssembly.compile(wasm);
  expect(WebAssembly.Module.imports(module)).toEqual([]);
  const instance = await WebAssembly.instantiate(module, {});
  harness = instance.exports as unknown as Harness;
  scratchPtr = harness.scratch();
  console.log(`number.test.ts seed: ${SEED} (set NUMBER_TEST_SEED=${SEED} to reproduce)`);
});

describe("formatNumber", () => {
  it("writes the special values as String(x) does", () => {
    for (const x of SPECIAL_VALUES) expect(formatText(x), bitsOf(x)).toBe(String(x));
    expect(formatText(-0)).toBe("0");
    expect(formatText(NaN)).toBe("NaN");
    expect(formatText(-Infinity)).toBe("-Infinity");
    expect(formatText(1e21)).toBe("1e+21");
    expect(formatText(1e-7)).toBe("1e-7");
    expect(formatText(-2.5e300)).toBe("-2.5e+300");
    expect(formatText(-0.0000012345678901234567)).toBe("-0.0000012345678901234567");
  });

  it(`equals String(x) for ${RANDOM_DOUBLES} doubles`, () => {
    const doubles = makeDoubles(makeRandom(SEED), RANDOM_DOUBLES);
    const failures: string[] = [];
    let longest = 0;
    for (const x of doubles) {
      const expected = String(x);
      longest = Math.max(longest, expected.length);
      if (!formatMatches(x, expected) && failures.length < 10) {
        failures.push(`${bitsOf(x)}: expected ${expected}, got ${formatText(x)} (seed ${SEED})`);
      }
    }
    expect(failures).toEqual([]);
    expect(longest).toBeLessThanOrEqual(25);
  });
});

describe("parseNumber", () => {
  const check = (text: string, failures: string[]): void => {
    const expected = Number(text);
    const got = parseText(text);
    if (!Object.is(got, expected) && failures.length < 10) {
      const shown = text.length > 80 ? `${text.slice(0, 40)}...${text.slice(-30)} (${text.length} chars)` : text;
      failures.push(`${shown}: expected ${bitsOf(expected)}, got ${bitsOf(got)} (seed ${SEED})`);
    }
  };

  it("reads the listed hard cases", () => {
    const cases = [
      "0", "-0", "007", "-0.0e0", "0.0", "00.000e-5", "1e400", "-1e400", "1e-400", "-1e-400", "-1e-999",
      "1e0000000000000000000000000000000000400", "1e-99999999999999999999", "1E+308", "1E-400",
      "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308",
      "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
      "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
      "179769313486231580793728971405301e276", "179769313486231580793728971405300e276",
      "9007199254740993", "9007199254740993.0000000000000000000000000000001", "9007199254740992.9999999999999999999",
      "18446744073709551615", "18446744073709551616", "18446744073709551617", "99999999999999999999",
      "123456789012345678901234567890", "0.1", "0.3", "1e23", "8.589973e9", "7.3177701707893310e+15",
      "0." + "0".repeat(3000) + "1e3001", "0." + "0".repeat(3000) + "1e400", "-0." + "0".repeat(4000) + "1e4000",
      "1" + "0".repeat(5000) + "e-5000", "1" + "0".repeat(5000) + "1e-5000", "9".repeat(4000) + "e-4000",
      "0." + "0".repeat(300) + "1" + "7".repeat(5000), "4" + "9".repeat(3000) + "e-3324",
      "1" + "0".repeat(308), "1" + "0".repeat(309), "17976931348623158" + "0".repeat(292),
      "17976931348623158" + "0".repeat(291) + "1", "0".repeat(2000) + "1.5",
    ];
    // 2^-1075, halfway between 0 and the smallest subnormal, exactly (753 digits) and one unit off.
    const halfMin = 5n ** 1075n;
    for (const d of [halfMin, halfMin + 1n, halfMin - 1n]) cases.push(`${d}e-1075`, `-${d}e-1075`);
    const failures: string[] = [];
    for (const text of cases) check(text, failures);
    expect(failures).toEqual([]);
    expect(Object.is(parseText("-0"), -0)).toBe(true);
    expect(Object.is(parseText("-1e-999"), -0)).toBe(true);
    expect(parseText("-1e400")).toBe(-Infinity);
  });

  it(`reads String(x), toExponential(20), toPrecision(17) of ${RANDOM_DOUBLES} doubles`, () => {
    const doubles = makeDoubles(makeRandom(SEED ^ 0x5bd1e995), RANDOM_DOUBLES);
    const failures: string[] = [];
    for (const x of doubles) {
      if (!Number.isFinite(x)) continue;
      check(String(x), failures);
      check(x.toExponential(20), failures);
      check(x.toPrecision(17), failures);
    }
    expect(failures).toEqual([]);
  });

  it("reads exact halfway points between doubles (50-800 digits) and their neighbours", () => {
    const random = makeRandom(SEED ^ 0x27d4eb2f);
    const failures: string[] = [];
    let tested = 0;
    while (tested < 3000) {
      // A finite positive double with exponent chosen so the midpoint needs many digits.
      const hi = random() & 0x7fffffff;
      const bits = (BigInt(hi) << 32n) | BigInt(random());
      const x = fromBigBits(bits);
      if (!Number.isFinite(x) || x === 0) continue;
      const biased = Number(bits >> 52n);
      const c = (bits & ((1n << 52n) - 1n)) | (biased === 0 ? 0n : 1n << 52n);
      const q = (biased === 0 ? 1 : biased) - 1075;
      // Midpoint (2c + 1) * 2^(q-1) as an exact decimal D * 10^-scale.
      let digits: string;
      let scale: number;
      if (q - 1 >= 0) {
        digits = ((2n * c + 1n) << BigInt(q - 1)).toString();
        scale = 0;
      } else {
        digits = ((2n * c + 1n) * 5n ** BigInt(1 - q)).toString();
        scale = 1 - q;
      }
      if (digits.length < 50 || digits.length > 800) continue;
      tested++;
      const sign = random() & 1 ? "-" : "";
      const last = BigInt(digits);
      const variants = [last, last + 1n, last - 1n];
      for (const v of variants) {
        const d = v.toString();
        check(`${sign}${d}e-${scale}`, failures);
        // The same value with the point placed inside or before the digits.
        if (scale > 0 && scale < d.length) check(`${sign}${d.slice(0, d.length - scale)}.${d.slice(d.length - scale)}`, failures);
        else if (scale >= d.length) check(`${sign}0.${"0".repeat(scale - d.length)}${d}`, failures);
      }
      // Trailing zeros keep it a tie; a far nonzero digit breaks it.
      check(`${sign}${digits}${"0".repeat(200)}e-${scale + 200}`, failures);
      check(`${sign}${digits}${"0".repeat(200)}1e-${scale + 201}`, failures);
      // A nonzero digit right at, or just past, the 800 digits the slow path keeps.
      for (const total of [799, 800, 801]) {
        const pad = total - 1 - digits.length;
        if (pad >= 0) check(`${sign}${digits}${"0".repeat(pad)}1e-${scale + pad + 1}`, failures);
      }
    }
    expect(failures).toEqual([]);
  });

  it("reads random decimal strings of 1-40 digits at every magnitude", () => {
    const random = makeRandom(SEED ^ 0x165667b1);
    const failures: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      const n = 1 + (random() % 40);
      let d = "";
      for (let j = 0; j < n; j++) d += String.fromCharCode(48 + (random() % 10));
      const point = random() % (n + 1);
      const mantissa = point === n ? d : `${d.slice(0, point) || "0"}.${d.slice(point)}`;
      const exp = (random() % 700) - 350;
      check(`${random() & 1 ? "-" : ""}${mantissa}${random() & 1 ? "e" : "E"}${exp}`, failures);
    }
    expect(failures).toEqual([]);
  });
});
