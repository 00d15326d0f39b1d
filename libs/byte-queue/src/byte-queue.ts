/**
 * The bytes a socket delivered that a decoder has not consumed yet, kept as
 * the chunks they came in: reading n bytes copies only when they span
 * chunks. The decoder bounds what it lets wait here (it checks a declared
 * length before waiting for the body).
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private size = 0;

  /** Bytes held. */
  get length(): number {
    return this.size;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.size += chunk.length;
  }

  /** The first n bytes (n <= length), left in the queue. */
  peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return this.copyOut(n, false);
  }

  /** Removes and returns the first n bytes (n <= length). */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    this.size -= n;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    this.size += n;
    const out = this.copyOut(n, true);
    this.size -= n;
    return out;
  }

  /** Removes the first n bytes (n <= length) without copying them anywhere. */
  discard(n: number): void {
    this.size -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      if (c.length <= n) {
        n -= c.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
  }

  /** Removes and returns everything held. */
  takeAll(): Buffer {
    return this.take(this.size);
  }

  clear(): void {
    this.chunks = [];
    this.size = 0;
  }

  private copyOut(n: number, consume: boolean): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let i = 0;
    while (filled < n) {
      const c = this.chunks[i]!;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (!consume) i++;
      else if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
