import type { EventEmitter } from "node:events";

type Falsy = undefined | null | false;

/**
 * Polls a condition that has no event of its own until it holds. Rejects
 * with the message after the deadline, so a hang becomes a clear failure.
 */
export async function waitFor<T>(
  probe: () => T | Falsy | Promise<T | Falsy>,
  opts: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v as T;
    if (Date.now() >= deadline) throw new Error(`waitFor timed out after ${timeoutMs}ms: ${opts.message ?? "condition"}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The first argument of the first matching event, or a rejection naming the event after the timeout. */
export function onceEvent<T = unknown>(
  emitter: EventEmitter,
  event: string,
  opts: { timeoutMs?: number; filter?: (value: T) => boolean } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise<T>((resolve, reject) => {
    const onEvent = (value: T) => {
      if (opts.filter && !opts.filter(value)) return;
      clearTimeout(timer);
      emitter.off(event, onEvent);
      resolve(value);
    };
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`no "${event}" event within ${timeoutMs}ms`));
    }, timeoutMs);
    emitter.on(event, onEvent);
  });
}
