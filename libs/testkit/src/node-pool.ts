/**
 * Starts things for one test file and stops them all in its `after` hook:
 * `const { node, stopAll } = nodePoolOf(startNode); after(stopAll);`
 */
export function nodePoolOf<A extends unknown[], T extends { stop(): Promise<void> }>(
  start: (...args: A) => Promise<T>,
): { node: (...args: A) => Promise<T>; stopAll(): Promise<void> } {
  const started: T[] = [];
  return {
    async node(...args: A) {
      const n = await start(...args);
      started.push(n);
      return n;
    },
    async stopAll() {
      await Promise.all(started.splice(0).map((n) => n.stop()));
    },
  };
}
