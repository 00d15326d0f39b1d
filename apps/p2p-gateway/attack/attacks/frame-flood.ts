import type { Attack } from "../attack.js";
import { repeated } from "../frames.js";

/** One sealed write: as many small frames as fill a Noise transport message's worth of plaintext. */
const WRITE_BYTES = 64 * 1024 - 64;
const SUBNETS = 8;
const THREADS = 2;

/**
 * A flood of one tiny frame from established peers (8 /24s, in 2 threads),
 * 64 KiB of them per sealed write, as fast as the gateway reads: every frame
 * costs the gateway a decode and a dispatch. A peer cut off reconnects.
 */
export function frameFlood(name: string, what: string, f: Buffer): Attack {
  const burst = repeated(f, WRITE_BYTES);
  const perWrite = Math.floor(burst.length / f.length);
  return {
    name,
    description: `${what} (${f.length} bytes each), 64 KiB of them per sealed write, from ${SUBNETS} /24s`,
    subnets: SUBNETS,
    threads: THREADS,
    async run(ctx) {
      await ctx.peers(ctx.setup.subnets.length, { hello: true }, async (p) => {
        while (ctx.running && !p.socket.destroyed) if (await ctx.seal(p, burst)) ctx.sent.frames += perWrite;
      });
    },
  };
}
