/**
 * Sets `key` in `map` as its newest entry (a key set again moves to the end) and drops the oldest
 * entries past `max`: Map keeps insertion order, so the first key is the one set longest ago. The
 * per-process caches (roles, document verdicts, known candidate caches) stay bounded with it.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) return;
    map.delete(oldest.value);
  }
}
