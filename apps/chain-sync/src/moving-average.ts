/**
 * One step of an exponential moving average: the first sample as it is, then
 * each new one moving the average `weight` of the way towards it.
 */
export function movingAverage(current: number | undefined, sample: number, weight: number): number {
  return current === undefined ? sample : current + weight * (sample - current);
}
