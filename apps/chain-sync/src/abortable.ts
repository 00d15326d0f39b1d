/** What an abortable wait resolves with when the worker is stopping. */
export const STOPPED = Symbol("stopped");

/**
 * `work`'s result, or STOPPED once `signal` has aborted and `graceMs` more
 * have passed without it. Work given up on keeps running; its result (or
 * failure) is ignored.
 */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal, graceMs = 0): Promise<T | typeof STOPPED> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(() => resolve(STOPPED), graceMs);
    };
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    };
    work.then(
      (v) => {
        done();
        resolve(v);
      },
      (err: unknown) => {
        done();
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return unlessAborted(new Promise<true>((r) => setTimeout(() => r(true), ms).unref()), signal).then((v) => v === true);
}
