// In-place heapsorts: O(n log n), no recursion, no allocation.

import { bytesCompare } from "./bytes";
import { PathSet, pathText, pathTextLen } from "./paths";

function siftU64(a: usize, start: usize, n: usize): void {
  let root = start;
  while (true) {
    let child: usize = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && load<u64>(a + ((child + 1) << 3)) > load<u64>(a + (child << 3))) child++;
    const r = load<u64>(a + (root << 3));
    const c = load<u64>(a + (child << 3));
    if (r >= c) return;
    store<u64>(a + (root << 3), c);
    store<u64>(a + (child << 3), r);
    root = child;
  }
}

/** Sorts `n` u64s at `a` ascending. */
export function sortU64(a: usize, n: usize): void {
  if (n < 2) return;
  for (let i = n >> 1; i > 0; i--) siftU64(a, i - 1, n);
  for (let end = n - 1; end > 0; end--) {
    const t = load<u64>(a);
    store<u64>(a, load<u64>(a + (end << 3)));
    store<u64>(a + (end << 3), t);
    siftU64(a, 0, end);
  }
}

function pathLess(s: PathSet, x: u32, y: u32): bool {
  return bytesCompare(pathText(s, x), pathTextLen(s, x), pathText(s, y), pathTextLen(s, y)) < 0;
}

function siftIds(s: PathSet, a: usize, start: usize, n: usize): void {
  let root = start;
  while (true) {
    let child: usize = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && pathLess(s, load<u32>(a + (child << 2)), load<u32>(a + ((child + 1) << 2)))) child++;
    const r = load<u32>(a + (root << 2));
    const c = load<u32>(a + (child << 2));
    if (!pathLess(s, r, c)) return;
    store<u32>(a + (root << 2), c);
    store<u32>(a + (child << 2), r);
    root = child;
  }
}

/** Sorts `n` published path ids at `a` by their text, in code-point order. */
export function sortPathIds(s: PathSet, a: usize, n: usize): void {
  if (n < 2) return;
  for (let i = n >> 1; i > 0; i--) siftIds(s, a, i - 1, n);
  for (let end = n - 1; end > 0; end--) {
    const t = load<u32>(a);
    store<u32>(a, load<u32>(a + (end << 2)));
    store<u32>(a + (end << 2), t);
    siftIds(s, a, 0, end);
  }
}
