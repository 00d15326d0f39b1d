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
    // Gauges named *_total break the exposition conventions (`promtool check
    // metrics` rejects them); the handle/request counts they give are not worth that.
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
      registry.removeSingleMetric(`${opts.prefix ?? ""}${name}`);
    }
  }
  return registry;
}
