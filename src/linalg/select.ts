/**
 * Deterministic ordering helpers: stable argsort, k-smallest selection and small-group
 * selection, all under the total order "(value, index)": smaller value first, and between equal
 * values the smaller index first. This is what a stable ascending sort gives, so selecting the k
 * smallest under this order equals taking the first k indices of a stable sort.
 *
 * Values must not be NaN (the helpers throw), because NaN has no place in the order.
 *
 * @module
 */

function rejectNaN(name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== values[i]) {
      throw new RangeError(`${name}: value at index ${i} is NaN; scores must be numbers`);
    }
  }
}

/**
 * Indices that sort `values` ascending, stable (equal values keep index order).
 *
 * @param values The keys.
 * @returns A permutation of `0..n-1`.
 */
export function stableArgsort(values: ArrayLike<number>): Uint32Array {
  rejectNaN("stableArgsort", values);
  const idx = new Uint32Array(values.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  idx.sort((a, b) => (values[a] - values[b]) || (a - b));
  return idx;
}

function precedes(values: ArrayLike<number>, a: number, b: number): boolean {
  return values[a] < values[b] || (values[a] === values[b] && a < b);
}

function medianOfThree(values: ArrayLike<number>, a: number, b: number, c: number): number {
  if (precedes(values, a, b)) {
    if (precedes(values, b, c)) return b;
    return precedes(values, a, c) ? c : a;
  }
  // b precedes a
  if (precedes(values, a, c)) return a;
  return precedes(values, b, c) ? c : b;
}

/**
 * Indices of the `k` smallest entries of `values` under the (value, index) order: exactly the
 * first `k` entries of a stable ascending argsort, but found in expected linear time
 * (quickselect with a median-of-three pivot; the order is total, so there are no ties to split).
 *
 * @param values The keys (not modified).
 * @param k How many to select; clamped to [0, n].
 * @returns The selected indices, in ascending index order.
 */
export function smallestIndices(values: ArrayLike<number>, k: number): Uint32Array {
  rejectNaN("smallestIndices", values);
  const n = values.length;
  const kk = Math.max(0, Math.min(n, Math.floor(k)));
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  if (kk > 0 && kk < n) {
    const target = kk - 1; // after selection idx[0..target] hold the kk smallest
    let lo = 0;
    let hi = n - 1;
    while (hi > lo) {
      // Median of three (by the total order) as pivot.
      const mid = lo + ((hi - lo) >> 1);
      const pIdx = medianOfThree(values, idx[lo], idx[mid], idx[hi]);
      const pVal = values[pIdx];
      let i = lo;
      let j = hi;
      while (i <= j) {
        for (;;) {
          const x = idx[i];
          const v = values[x];
          if (v < pVal || (v === pVal && x < pIdx)) i++;
          else break;
        }
        for (;;) {
          const x = idx[j];
          const v = values[x];
          if (v > pVal || (v === pVal && x > pIdx)) j--;
          else break;
        }
        if (i <= j) {
          const t = idx[i];
          idx[i] = idx[j];
          idx[j] = t;
          i++;
          j--;
        }
      }
      if (target <= j) hi = j;
      else if (target >= i) lo = i;
      else break;
    }
  }
  return idx.slice(0, kk).sort();
}

/**
 * Within one group `values[start .. start+m)`, marks the `count` smallest entries under the
 * (value, index) order by writing 0 into `mask` at the same positions (offset by `maskOffset`
 * relative to `start`). Meant for N:M groups, where m is small (≤ 32 or so): O(count·m).
 *
 * @param values The scores.
 * @param start First index of the group in `values`.
 * @param m Group size.
 * @param count How many to mark.
 * @param mask Output mask (1 = keep, 0 = prune); entries of the group are set to 1 or 0.
 * @param maskOffset Index in `mask` corresponding to `values[start]` (default `start`).
 */
export function markSmallestInGroup(
  values: ArrayLike<number>,
  start: number,
  m: number,
  count: number,
  mask: Uint8Array,
  maskOffset: number = start,
): void {
  for (let c = 0; c < m; c++) mask[maskOffset + c] = 1;
  for (let pick = 0; pick < count; pick++) {
    let best = -1;
    let bestVal = Infinity;
    for (let c = 0; c < m; c++) {
      if (mask[maskOffset + c] === 0) continue;
      const v = values[start + c];
      if (v !== v) {
        throw new RangeError(`markSmallestInGroup: value at index ${start + c} is NaN`);
      }
      // Strict "<" keeps the lowest index among equal values; best === -1 admits +Infinity.
      if (best === -1 || v < bestVal) {
        best = c;
        bestVal = v;
      }
    }
    mask[maskOffset + best] = 0;
  }
}
