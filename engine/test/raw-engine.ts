// A bare host for the engine tests: calls warden.wasm through the ABI
// (ABI.md) directly, without @warden/core, so these tests pin the boundary
// itself. Values are encoded with the ABI's tags by hand.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { WardenExports as Exports } from "../abi.js";

const wasmPath = fileURLToPath(new URL("../build/warden.wasm", import.meta.url));
export const wasmModule = new WebAssembly.Module(readFileSync(wasmPath));


export interface Record {
  status: number;
  effect: number;
  allowed: boolean;
  policy: number;
  rule: number;
  limitPolicy: number;
  limitIndex: number;
  indeterminate: number[];
  error: string | null;
}

/** A JSON-like value for the request encoder; `MISSING` is the ABI's missing tag. */
export const MISSING = Symbol("missing");
export type Value = null | boolean | number | string | Value[] | { [k: string]: Value } | typeof MISSING;

const utf8 = new TextEncoder();

export function encodeValue(v: Value, out: number[]): void {
  if (v === MISSING) out.push(0);
  else if (v === null) out.push(1);
  else if (v === false) out.push(2);
  else if (v === true) out.push(3);
  else if (typeof v === "number") {
    out.push(4);
    const b = new Uint8Array(new Float64Array([v]).buffer);
    out.push(...b);
  } else if (typeof v === "string") pushString(utf8.encode(v), out, 5);
  else if (Array.isArray(v)) {
    const inner: number[] = [];
    for (const e of v) encodeValue(e, inner);
    pushContainer(6, v.length, inner, out);
  } else {
    const inner: number[] = [];
    const keys = Object.keys(v);
    for (const k of keys) {
      const name = utf8.encode(k);
      pushU32(name.length, inner);
      inner.push(...name);
      encodeValue(v[k], inner);
    }
    pushContainer(7, keys.length, inner, out);
  }
}

export function pushU32(n: number, out: number[]): void {
  out.push(n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255);
}

function pushString(bytes: Uint8Array, out: number[], tag: number): void {
  out.push(tag);
  pushU32(bytes.length, out);
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]);
}

function pushContainer(tag: number, count: number, inner: number[], out: number[]): void {
  out.push(tag);
  pushU32(count, out);
  pushU32(inner.length, out);
  for (let i = 0; i < inner.length; i++) out.push(inner[i]);
}

export class RawEngine {
  readonly x: Exports;

  constructor() {
    this.x = new WebAssembly.Instance(wasmModule, {}).exports as unknown as Exports;
  }

  get bytes(): Uint8Array {
    return new Uint8Array(this.x.memory.buffer);
  }

  output(): string {
    const p = this.x.output_ptr();
    return new TextDecoder().decode(this.bytes.subarray(p, p + this.x.output_len()));
  }

  /** Loads raw bytes; returns the status and the parsed output document. */
  loadBytes(data: Uint8Array): { status: number; result: any } {
    const ptr = this.x.alloc(data.length);
    this.bytes.set(data, ptr);
    const status = this.x.load(ptr, data.length);
    this.x.free(ptr);
    return { status, result: JSON.parse(this.output()) };
  }

  load(json: string | unknown[]): { status: number; result: any } {
    return this.loadBytes(utf8.encode(typeof json === "string" ? json : JSON.stringify(json)));
  }

  /** Writes a request record from raw bytes and decides it. */
  decideBytes(record: Uint8Array | number[], explain = false): Record {
    const ptr = this.x.request_reserve(record.length);
    this.bytes.set(record, ptr);
    const r = explain ? this.x.explain(record.length) : this.x.decide(record.length);
    return this.read(r);
  }

  /** Builds a record: header (now in epoch milliseconds), then action, resource, agent and the context slots. */
  static record(now: number, offsets: number[], action: Value, resource: Value, agent: Value, slots: Value[]): number[] {
    const out: number[] = [];
    const seconds = Math.floor(now / 1000);
    out.push(...new Uint8Array(new Float64Array([seconds]).buffer));
    pushU32((now - seconds * 1000) * 1e6, out);
    pushU32(0, out);
    pushU32(offsets.length, out);
    pushU32(slots.length, out);
    for (const o of offsets) pushU32(o >>> 0, out);
    encodeValue(action, out);
    encodeValue(resource, out);
    encodeValue(agent, out);
    for (const s of slots) encodeValue(s, out);
    return out;
  }

  decide(action: Value, resource: Value = MISSING, slots: Value[] = [], agent: Value = MISSING, now = 1772704800000, offsets: number[] = []): Record {
    return this.decideBytes(RawEngine.record(now, offsets, action, resource, agent, slots));
  }

  read(r: number): Record {
    const v = new DataView(this.x.memory.buffer);
    const n = v.getUint32(r + 28, true);
    const list = v.getUint32(r + 32, true);
    const indeterminate: number[] = [];
    for (let i = 0; i < n; i++) indeterminate.push(v.getUint32(list + 4 * i, true));
    const status = v.getUint32(r, true);
    const errPtr = v.getUint32(r + 36, true);
    const errLen = v.getUint32(r + 40, true);
    return {
      status,
      effect: v.getUint32(r + 4, true),
      allowed: v.getUint32(r + 8, true) === 1,
      policy: v.getInt32(r + 12, true),
      rule: v.getInt32(r + 16, true),
      limitPolicy: v.getInt32(r + 20, true),
      limitIndex: v.getInt32(r + 24, true),
      indeterminate,
      error: status === 1 ? new TextDecoder().decode(this.bytes.subarray(errPtr, errPtr + errLen)) : null,
    };
  }
}
