import { collectDefaultMetrics, Registry } from "prom-client";

export interface RegistryOptions {
  service: string;
  node?: string;
  /** prom-client's process metrics (CPU, memory, event-loop lag). Default true. */
  collectDefault?: boolean;
  prefix?: string;
}

/**
 * A registry of its own per component (never prom-client's global one), so
 * several services or nodes can live in one process (tests, devnet).
 */
export function createRegistry(opts: RegistryOptions): Registry {
  const registry = new Registry();
  if (opts.collectDefault ?? true) {
    collectDefaultMetrics({ register: registry, prefix: opts.prefix ?? "", eventLoopMonitoringPrecision: 10 });
  }
  return registry;
}
