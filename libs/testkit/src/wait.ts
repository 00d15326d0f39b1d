import type { EventMap, TypedEvents } from "@timenet/events";

type Falsy = undefined | null | false;

/**
 * Polls a condition that has no event of its own until it holds. Rejects
 * with the message after the deadline, so a hang becomes a clear failure.
 */
export async function waitFor<T>(
  probe: () => T | Falsy | Promise<T | Falsy>,
  /** message: a function is called only on timeout (it may read state, asynchronously, to explain the failure). */
  opts: { timeoutMs?: number; intervalMs?: number; message?: string | (() => string | Promise<string>) } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v as T;
    if (Date.now() >= deadline) throw new Error(`waitFor timed out after ${timeoutMs}ms: ${(typeof opts.message === "function" ? await opts.message() : opts.message) ?? "condition"}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The arguments of the next matching event, or a rejection naming the event after the timeout. */
export function nextEvent<E extends EventMap, K extends keyof E & string>(
  events: TypedEvents<E>,
  event: K,
  opts: { timeoutMs?: number; filter?: (...args: Parameters<E[K]>) => boolean } = {},
): Promise<Parameters<E[K]>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no "${event}" event within ${timeoutMs}ms`));
    }, timeoutMs);
    const off = events.on(event, ((...args: Parameters<E[K]>) => {
      if (opts.filter && !opts.filter(...args)) return;
      clearTimeout(timer);
      off();
      resolve(args);
    }) as E[K]);
  });
}
