/**
 * What a starting service must undo, in reverse order: used both when start
 * fails half-way and on stop. `run` is idempotent (a second stop waits for the first).
 */
export class CleanupStack {
  private readonly steps: Array<() => Promise<void> | void> = [];
  private running: Promise<void> | undefined;

  push(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) await step();
    })();
    return this.running;
  }
}
