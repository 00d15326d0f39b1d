import { DEFAULT_MAX_FRAME_BYTES } from "@timenet/wire";
import type { Attack } from "../attack.js";
import { emptyBlocksFrame, paddedPingFrame } from "../frames.js";

const SUBNETS = 64;

/** The largest frames a gateway accepts by default, costly to decode (millions of empty blocks) or to hold (an unknown field). */
let costly: Buffer[] | undefined;
const frames = () => (costly ??= [emptyBlocksFrame(DEFAULT_MAX_FRAME_BYTES), paddedPingFrame(DEFAULT_MAX_FRAME_BYTES)]);

/**
 * 8 MiB costly-to-decode frames from 64 /24s at once, sent once the Noise
 * channel is open: right behind a handshake message whose Hello is empty
 * (`hello` false: refused as it is read, so nothing behind it may be) or
 * after the whole handshake. Each attacker sends one, waits for the close,
 * and reconnects.
 */
export function bigFrames(hello: boolean): Attack {
  const when = hello ? "after" : "before";
  return {
    name: `big-frames-${when}-handshake`,
    description: `8 MiB frames of 4 M empty blocks or an 8 MiB unknown field in a Ping, ${hello ? "after the handshake" : "right behind a handshake message with an empty Hello"}, from 64 /24s`,
    subnets: SUBNETS,
    async run(ctx) {
      let round = 0;
      await ctx.peers(SUBNETS, { hello }, async (p) => {
        const f = frames()[round++ % 2]!;
        if (await ctx.seal(p, f)) ctx.sent.frames++;
        // An established attacker sends another until it is cut off; a refused one gets one at most.
        while (hello && ctx.running && !p.socket.destroyed) if (await ctx.seal(p, f)) ctx.sent.frames++;
        await ctx.closed(p.socket);
      });
    },
  };
}
