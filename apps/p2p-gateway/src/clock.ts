/** A timer as the clock hands it out; only the clock that made it can cancel it. */
export type TimerHandle = unknown;

/**
 * Time and timers, injected so that the timing rules of a connection
 * (heartbeat, handshake and request timeouts) can be tested step by step on
 * a manual clock instead of by waiting.
 */
export interface Clock {
  /** Monotonic milliseconds (never jumps back with the wall clock). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(timer: TimerHandle): void;
  /** Runs fn after the I/O callbacks already due: bytes that arrived meanwhile are read first. */
  setImmediate(fn: () => void): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  setImmediate: (fn) => void setImmediate(fn),
};

/**
 * The wall clock (unix milliseconds): what our Hellos' timestamps say and
 * what peers' Hello timestamps are compared with. Injected so that a test can
 * run a gateway whose clock is wrong; Date.now in production.
 */
export type WallClock = () => number;

export const systemWallClock: WallClock = () => Date.now();
