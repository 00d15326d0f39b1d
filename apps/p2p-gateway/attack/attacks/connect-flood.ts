import type { Attack } from "../attack.js";

const PER_SECOND = 1_000;
const TICK_MS = 10;
/** Attempts in flight at most: a gateway that stops accepting cannot make us hold unbounded sockets. */
const MAX_IN_FLIGHT = 2_000;

/**
 * 1,000 TCP connection attempts a second from the 254 addresses of one /24,
 * each closed as soon as it opens: the accept path (admission, per-/24
 * limit, logging) at full rate.
 */
export const connectFlood: Attack = {
  name: "connect-flood",
  description: "1,000 connection attempts/s from one /24 (254 addresses), each closed as soon as it opens",
  subnets: 1,
  async run(ctx) {
    let n = 0;
    let inFlight = 0;
    const attempt = async (i: number) => {
      inFlight++;
      try {
        const s = await ctx.socket(ctx.target(i), ctx.hostIn(0, i), 1_000);
        s?.destroy();
      } finally {
        inFlight--;
      }
    };
    const started = Date.now();
    while (ctx.running) {
      // Catch up to the rate from the start, so a slow turn does not lower it.
      const due = Math.floor(((Date.now() - started) * PER_SECOND) / 1_000);
      for (; n < due && inFlight < MAX_IN_FLIGHT; n++) void attempt(n);
      await ctx.pause(TICK_MS);
    }
  },
};
