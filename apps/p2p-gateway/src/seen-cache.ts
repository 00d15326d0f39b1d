/**
 * Bounded set of recently seen gossip hashes (insertion order = age). When
 * full, the oldest entry goes: a hash seen again after that long is relayed
 * again at worst once more, which is harmless; unbounded memory is not.
 */
export class SeenCache {
  private readonly seen = new Set<string>();

  constructor(private readonly capacity: number) {}

  /** Records the key; true if it was new. */
  add(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > this.capacity) {
      const oldest = this.seen.values().next().value as string;
      this.seen.delete(oldest);
    }
    return true;
  }

  has(key: string): boolean {
    return this.seen.has(key);
  }

  get size(): number {
    return this.seen.size;
  }
}
