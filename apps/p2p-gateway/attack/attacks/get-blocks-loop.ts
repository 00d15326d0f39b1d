import { create } from "@bufbuild/protobuf";
import { EnvelopeSchema } from "@timenet/proto";
import { encodeFrame } from "@timenet/wire";
import { DEFAULT_RATE_LIMITS } from "../../src/options.js";
import type { Attack } from "../attack.js";

const IPS = 16;
const { count: PER_PERIOD, periodMs: PERIOD_MS, burst: BURST } = DEFAULT_RATE_LIMITS.getBlocks;

/**
 * GetBlocks for everything from height 0, from 16 IPs in 16 /24s, each at
 * the most the default per-peer limit lets through without a drop (its
 * burst, then its rate): never an offence, every one answered by the
 * node's block-store. Answers are read and thrown away unopened.
 */
export const getBlocksLoop: Attack = {
  name: "get-blocks-loop",
  description: `GetBlocks{from 0, count 2^32-1} from 16 IPs, each a burst of ${BURST} then ${PER_PERIOD} per ${PERIOD_MS} ms (the default limit)`,
  subnets: IPS,
  async run(ctx) {
    await ctx.peers(IPS, { hello: true, retryMs: 500 }, async (p) => {
      let requestId = 1;
      const batch = (n: number) =>
        Buffer.concat(Array.from({ length: n }, () => encodeFrame(create(EnvelopeSchema, { requestId: requestId++, payload: { case: "getBlocks", value: { fromHeight: 0, count: 0xffffffff } } }))));
      // The burst, less one to stay clear of the bucket's rounding.
      if (await ctx.seal(p, batch(BURST - 1))) ctx.sent.frames += BURST - 1;
      while (ctx.running && !p.socket.destroyed) {
        await ctx.pause(PERIOD_MS);
        if (await ctx.seal(p, batch(PER_PERIOD - 1))) ctx.sent.frames += PER_PERIOD - 1;
      }
    });
  },
};
