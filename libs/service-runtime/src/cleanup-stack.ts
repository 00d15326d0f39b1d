/**
 * What a starting service must undo, in reverse order: used both when start
 * fails half-way and on stop. Every step runs even when an earlier one fails
 * (a stuck gRPC server must not leave the store unflushed or NATS open); the
 * failures are thrown together at the end as one AggregateError. `run` is
 * idempotent (a second stop waits for the first).
 */
export class CleanupStack {
  private readonly steps: Array<() => Promise<void> | void> = [];
  private running: Promise<void> | undefined;

  push(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      const failures: unknown[] = [];
      for (const step of this.steps.reverse()) {
        try {
          await step();
        } catch (err) {
          failures.push(err);
        }
      }
      if (failures.length > 0) throw new AggregateError(failures, `${failures.length} cleanup step(s) failed: ${failures.map((e) => (e as Error).message).join("; ")}`);
    })();
    return this.running;
  }
}
