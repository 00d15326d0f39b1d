import { DEFAULT_MAX_FRAME_BYTES } from "@timenet/wire";
import type { Attack } from "../attack.js";
import { txFrame } from "../frames.js";

const SUBNETS = 8;

/**
 * 8 MiB transactions (the largest frame a gateway accepts), each new, sent
 * back to back by established peers from 8 /24s: a first-seen Tx is relayed
 * to every other peer and published on the node's NATS.
 */
export const bigTx: Attack = {
  name: "big-tx",
  description: "8 MiB transactions with fresh random data, back to back, from 8 /24s",
  subnets: SUBNETS,
  async run(ctx) {
    await ctx.peers(SUBNETS, { hello: true }, async (p) => {
      // Fresh data every time: a repeated Tx would be dropped as already seen.
      while (ctx.running && !p.socket.destroyed) if (await ctx.seal(p, txFrame(DEFAULT_MAX_FRAME_BYTES))) ctx.sent.frames++;
    });
  },
};
