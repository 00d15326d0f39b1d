import { fileURLToPath } from "node:url";

const SKEW_VAR = "TIMENET_TEST_CLOCK_SKEW_MS";

/**
 * Environment that makes a service process's wall clock wrong by `skewMs`
 * (negative: behind), as on a host whose NTP is broken: Date.now is shifted
 * before the service's main module loads; its monotonic clock is untouched.
 * Merge it into startServiceProcess's env.
 */
export function skewedClockEnv(skewMs: number): Record<string, string> {
  const preload = fileURLToPath(new URL("./skewed-clock-preload.js", import.meta.url));
  return { NODE_OPTIONS: `--import=${preload}`, [SKEW_VAR]: String(skewMs) };
}
