/**
 * Sets `key` as the most recent entry of `map` (a Map keeps insertion
 * order); beyond `max` entries the least recent is dropped and returned, so a
 * per-peer memory stays bounded whoever connects.
 */
export function rememberRecent<K, V>(map: Map<K, V>, key: K, value: V, max: number): V | undefined {
  map.delete(key);
  map.set(key, value);
  if (map.size <= max) return undefined;
  const [oldest, dropped] = map.entries().next().value!;
  map.delete(oldest);
  return dropped;
}
