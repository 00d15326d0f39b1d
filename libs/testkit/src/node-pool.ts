/**
 * Starts things for one test file and stops them all in its `after` hook:
 * `const { node, stopAll } = nodePoolOf(startNode); after(stopAll);`
 */
export function nodePoolOf<A extends unknown[], T extends { stop(): Promise<void> }>(
  start: (...args: A) => Promise<T>,
): { node: (...args: A) => Promise<T>; stopAll(): Promise<void> } {
  const started: T[] = [];
  // Starts still in flight: when one of several started together fails, the
  // test's `after` runs while the others are still starting; they are
  // awaited and stopped too, or their processes would keep the test file
  // (and the whole run) from ever ending.
  const starting = new Set<Promise<T>>();
  return {
    async node(...args: A) {
      const p = start(...args);
      starting.add(p);
      try {
        const n = await p;
        started.push(n);
        return n;
      } finally {
        starting.delete(p);
      }
    },
    async stopAll() {
      while (starting.size > 0) await Promise.allSettled([...starting]);
      await Promise.all(started.splice(0).map((n) => n.stop()));
    },
  };
}
