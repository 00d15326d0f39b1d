// eslint-disable-next-line @typescript-eslint/no-explicit-any -- listener signatures differ per event
export type EventMap = { [event: string]: (...args: any[]) => void };

/** Called with a listener's exception instead of throwing it into the emitter. */
export type ListenerErrorHandler = (event: string, err: unknown) => void;

/**
 * Typed in-process events. Unlike node's EventEmitter, a listener that throws
 * cannot unwind into the code that emitted: the emitter is often a socket's
 * `data` handler, and one bad listener must not close a healthy connection or
 * take the process down. Each such error goes to `onListenerError` (the owner
 * counts it in a metric and logs it), and the remaining listeners still run.
 */
export class TypedEvents<E extends EventMap> {
  private readonly listeners = new Map<keyof E, Array<E[keyof E]>>();

  constructor(private readonly onListenerError: ListenerErrorHandler) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E & string>(event: K, listener: E[K]): () => void {
    const list = this.listeners.get(event) ?? [];
    list.push(listener);
    this.listeners.set(event, list);
    return () => this.off(event, listener);
  }

  off<K extends keyof E & string>(event: K, listener: E[K]): void {
    const list = this.listeners.get(event);
    if (!list) return;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.listeners.delete(event);
  }

  /** Runs every listener of `event` in order; an exception is reported, not thrown. */
  emit<K extends keyof E & string>(event: K, ...args: Parameters<E[K]>): void {
    const list = this.listeners.get(event);
    if (!list) return;
    // A copy: a listener may remove itself (or others) while we iterate.
    for (const listener of [...list]) {
      try {
        listener(...args);
      } catch (err) {
        this.report(event, err);
      }
    }
  }

  listenerCount(event: keyof E & string): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  private report(event: string, err: unknown): void {
    try {
      this.onListenerError(event, err);
    } catch {
      // The reporter itself failed: nothing sensible is left to do.
    }
  }
}
