import type { Clock, TimerHandle } from "../src/clock.js";

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that moves only when the test says so. It models the order of the
 * event loop that the timing rules depend on: a timer's callback runs, then
 * the I/O that is due (the test delivers it), then the immediates.
 */
export class ManualClock implements Clock {
  private t = 0;
  private nextId = 1;
  private timers: Timer[] = [];
  private immediates: Array<() => void> = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.nextId++, at: this.t + ms, fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  setImmediate(fn: () => void): void {
    this.immediates.push(fn);
  }

  /** Time passes with the event loop running: every timer fires at its due time, each followed by the immediates it queued. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let next = this.due(end); next; next = this.due(end)) {
      this.t = next.at;
      this.fire(next);
      this.runImmediates();
    }
    this.t = end;
  }

  /** The event loop is blocked for ms (a GC pause, a stopped VM): time passes and nothing runs. */
  stall(ms: number): void {
    this.t += ms;
  }

  /** The timers phase after a stall: overdue timers fire late; their immediates wait for runImmediates(). */
  fireOverdue(): void {
    for (let next = this.due(this.t); next; next = this.due(this.t)) this.fire(next);
  }

  runImmediates(): void {
    while (this.immediates.length > 0) this.immediates.shift()!();
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  private due(until: number): Timer | undefined {
    let first: Timer | undefined;
    for (const t of this.timers) if (t.at <= until && (!first || t.at < first.at)) first = t;
    return first;
  }

  private fire(timer: Timer): void {
    this.timers = this.timers.filter((t) => t !== timer);
    timer.fn();
  }
}
