/**
 * Histogram bucket ends computed the plain way, independently of operator/store/histograms.ts:
 * bucket 0 is `first` wide and each next bucket is 5% wider than the last (VPA's scale).
 */
export function endOfBucketHolding(first: number, value: number): number {
  let start = 0;
  let width = first;
  while (start + width <= value) {
    start += width;
    width *= 1.05;
  }
  return start + width;
}
