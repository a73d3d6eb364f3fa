// An open-addressing hash map from byte strings to u32, allocated in an arena
// (it lives and dies with the compiled policies). Keys are not copied: they
// must live in the same arena or longer.

import { Arena, arenaZero } from "./memory";
import { bytesEqual } from "./bytes";

// Slot: hash, key pointer, key length, value (u32 each); key pointer 0 = empty.
const SLOT: usize = 16;
export const NOT_FOUND: u32 = 0xffffffff;

@unmanaged export class ByteMap {
  slots: usize;
  mask: u32;
  count: u32;
  arena: Arena;
}

export function mapNew(a: Arena, capacity: u32): ByteMap {
  let cap: u32 = 8;
  while (cap < capacity * 2) cap <<= 1;
  const m = changetype<ByteMap>(arenaZero(a, offsetof<ByteMap>()));
  m.slots = arenaZero(a, <usize>cap * SLOT);
  m.mask = cap - 1;
  m.count = 0;
  m.arena = a;
  return m;
}

export function mapGet(m: ByteMap, p: usize, n: usize, h: u32): u32 {
  let i = h & m.mask;
  while (true) {
    const s = m.slots + <usize>i * SLOT;
    const k = load<u32>(s, 4);
    if (k == 0) return NOT_FOUND;
    if (load<u32>(s) == h && bytesEqual(k, load<u32>(s, 8), p, n)) return load<u32>(s, 12);
    i = (i + 1) & m.mask;
  }
}

/** Inserts or replaces. `p` must be non-zero. */
export function mapPut(m: ByteMap, p: usize, n: usize, h: u32, value: u32): void {
  if ((m.count + 1) * 4 > (m.mask + 1) * 3) grow(m);
  let i = h & m.mask;
  while (true) {
    const s = m.slots + <usize>i * SLOT;
    const k = load<u32>(s, 4);
    if (k == 0) {
      store<u32>(s, h);
      store<u32>(s, <u32>p, 4);
      store<u32>(s, <u32>n, 8);
      store<u32>(s, value, 12);
      m.count++;
      return;
    }
    if (load<u32>(s) == h && bytesEqual(k, load<u32>(s, 8), p, n)) {
      store<u32>(s, value, 12);
      return;
    }
    i = (i + 1) & m.mask;
  }
}

function grow(m: ByteMap): void {
  const old = m.slots;
  const oldCap = m.mask + 1;
  const cap = oldCap << 1;
  m.slots = arenaZero(m.arena, <usize>cap * SLOT);
  m.mask = cap - 1;
  for (let i: u32 = 0; i < oldCap; i++) {
    const s = old + <usize>i * SLOT;
    if (load<u32>(s, 4) == 0) continue;
    let j = load<u32>(s) & m.mask;
    while (load<u32>(m.slots + <usize>j * SLOT, 4) != 0) j = (j + 1) & m.mask;
    memory.copy(m.slots + <usize>j * SLOT, s, SLOT);
  }
}
