// The engine's own heap (ABI.md §Memory management). The `stub` runtime's
// allocator is never called: AssemblyScript objects are not used at run time,
// only raw memory through `load`/`store` and unmanaged classes.
//
// Blocks come in power-of-two size classes (16 B … 2 GiB, header included),
// each class with a free list. A freed block is reused by the next request of
// its class, so repeating the same work (a reload, a decision) keeps memory
// flat; nothing is ever coalesced, which bounds waste at 2x.

const HEADER: usize = 8;
const MAGIC: u32 = 0x5744; // "WD": lets `free` ignore pointers it never gave out
const MIN_CLASS: u32 = 4;
const MAX_CLASS: u32 = 31;

// Head of each class's free list (0 = empty).
const FREE_LISTS: usize = memory.data(32 * 4);
let top: usize = 0;

function classOf(size: usize): u32 {
  const total = size + HEADER;
  const c = <u32>(32 - clz<u32>(<u32>(total - 1)));
  return c < MIN_CLASS ? MIN_CLASS : c;
}

function grow(end: usize): void {
  const have = <usize>memory.size() << 16;
  if (end <= have) return;
  const need = <i32>((end - have + 0xffff) >>> 16);
  // Grow by at least a quarter of what we have, so growth is amortised.
  const want = max(need, memory.size() >> 2);
  if (memory.grow(want) < 0 && memory.grow(need) < 0) unreachable();
}

/** A block of at least `size` bytes, 8-byte aligned. Traps when memory is exhausted. */
export function alloc(size: usize): usize {
  if (size > (<usize>1 << MAX_CLASS) - HEADER) unreachable();
  const c = classOf(size);
  const slot = FREE_LISTS + (<usize>c << 2);
  let block = <usize>load<u32>(slot);
  if (block != 0) {
    store<u32>(slot, load<u32>(block + HEADER));
  } else {
    if (top == 0) top = (__heap_base + 7) & ~<usize>7;
    block = top;
    top += <usize>1 << c;
    grow(top);
  }
  store<u32>(block, c);
  store<u32>(block, MAGIC, 4);
  return block + HEADER;
}

export function free(ptr: usize): void {
  if (ptr < HEADER + 8 || ptr & 7) return;
  const block = ptr - HEADER;
  if (load<u32>(block, 4) != MAGIC) return;
  const c = load<u32>(block);
  if (c < MIN_CLASS || c > MAX_CLASS) return;
  store<u32>(block, 0, 4); // a second free of the same block is ignored
  const slot = FREE_LISTS + (<usize>c << 2);
  store<u32>(block + HEADER, load<u32>(slot));
  store<u32>(slot, <u32>block);
}

/** Usable bytes of a block from `alloc`. */
export function capacityOf(ptr: usize): usize {
  return (<usize>1 << load<u32>(ptr - HEADER)) - HEADER;
}

export function realloc(ptr: usize, size: usize): usize {
  if (ptr == 0) return alloc(size);
  const cap = capacityOf(ptr);
  if (size <= cap) return ptr;
  const fresh = alloc(size);
  memory.copy(fresh, ptr, cap);
  free(ptr);
  return fresh;
}

// ---------------------------------------------------------------------------
// Arenas: bump allocation over a chain of blocks, freed all at once. The
// compiled policies live in one, a load's parse tree in another, and each
// decision's scratch values in a third that is reset at the start of a call.

const CHUNK: usize = 64 * 1024 - HEADER;

@unmanaged export class Arena {
  first: usize; // first chunk (kept by reset)
  chunk: usize; // current chunk: [next: usize][data...]
  ptr: usize;
  end: usize;
}

export function arenaNew(): Arena {
  const a = changetype<Arena>(alloc(offsetof<Arena>()));
  a.first = 0;
  a.chunk = 0;
  a.ptr = 0;
  a.end = 0;
  return a;
}

/** `size` bytes from the arena, 8-aligned. Inlined: the current chunk almost always has room. */
// @ts-ignore: decorator
@inline export function arenaAlloc(a: Arena, size: usize): usize {
  size = (size + 7) & ~<usize>7;
  const p = a.ptr;
  if (p + size > a.end || p == 0) return arenaChunk(a, size);
  a.ptr = p + size;
  return p;
}

/** arenaAlloc when the current chunk is full (or there is none yet). */
function arenaChunk(a: Arena, size: usize): usize {
  // Reuse the chunk after the current one (kept by a reset) when it is big enough.
  let next: usize = a.chunk != 0 ? load<usize>(a.chunk) : a.first;
  if (next == 0 || capacityOf(next) - 8 < size) {
    const fresh = alloc(max(CHUNK, size + 8));
    store<usize>(fresh, next); // keep the rest of the chain behind it
    if (a.chunk != 0) store<usize>(a.chunk, fresh);
    else a.first = fresh;
    next = fresh;
  }
  a.chunk = next;
  const p = next + 8;
  a.end = next + capacityOf(next);
  a.ptr = p + size;
  return p;
}

/** Allocates zero-filled memory from the arena. */
export function arenaZero(a: Arena, size: usize): usize {
  const p = arenaAlloc(a, size);
  memory.fill(p, 0, size);
  return p;
}

export function arenaCopy(a: Arena, src: usize, len: usize): usize {
  const p = arenaAlloc(a, len);
  memory.copy(p, src, len);
  return p;
}

/** Rewinds the arena to empty. It keeps its first chunk and frees any chunk beyond the first two. */
export function arenaReset(a: Arena): void {
  if (a.first == 0) return;
  const second = load<usize>(a.first);
  if (second != 0) {
    let c = load<usize>(second);
    store<usize>(second, 0);
    while (c != 0) {
      const next = load<usize>(c);
      free(c);
      c = next;
    }
  }
  a.chunk = 0;
  a.ptr = 0;
  a.end = 0;
}

/** Frees every chunk and the arena itself. */
export function arenaFree(a: Arena): void {
  let c = a.first;
  while (c != 0) {
    const next = load<usize>(c);
    free(c);
    c = next;
  }
  free(changetype<usize>(a));
}
