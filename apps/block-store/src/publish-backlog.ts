import type { Bus } from "@timenet/bus";

/**
 * Bytes published on the bus that the NATS server has not yet taken. The
 * NATS client buffers what it cannot write yet without a bound, so a flood
 * of answers faster than the socket drains would grow the process without
 * end: a flush (a ping the server answers after everything before it)
 * confirms what was published before it, one flush at a time.
 */
export class PublishBacklog {
  private published = 0;
  private confirmed = 0;
  private flushing = false;

  constructor(private readonly bus: Bus) {}

  /** Published and not yet confirmed taken by the server. */
  get bytes(): number {
    return this.published - this.confirmed;
  }

  added(bytes: number): void {
    this.published += bytes;
    if (!this.flushing) this.flush();
  }

  private flush(): void {
    this.flushing = true;
    const mark = this.published;
    this.bus.flush().then(
      () => {
        this.confirmed = mark;
        this.flushing = false;
        if (this.published > this.confirmed) this.flush();
      },
      // Disconnected: what was published is still unconfirmed; the next publish flushes again.
      () => void (this.flushing = false),
    );
  }
}
