import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { DisconnectReason, EnvelopeSchema } from "@timenet/proto";
import { ScriptedPeer } from "../../test/harness.js";
import type { Attack } from "../attack.js";

const SUBNETS = 8;
const MAX_HEIGHT = 0xffffffff;

/**
 * A peer whose Hello claims height 2^32-1, which then leaves at once with
 * Goodbye{SHUTDOWN} (a close nobody may hold against it) and comes back:
 * the claim steers a node's sync towards a peer that is never there.
 */
export const heightClaim: Attack = {
  name: "height-claim",
  description: "Hello with best_height 2^32-1, then Goodbye{SHUTDOWN}, reconnect, repeat, from 8 /24s",
  subnets: SUBNETS,
  async run(ctx) {
    const identity = () => ({ ...ScriptedPeer.identity(), tip: () => ({ height: MAX_HEIGHT, hash: randomBytes(32) }) });
    await ctx.peers(SUBNETS, { hello: true, identity }, async (p) => {
      p.send(create(EnvelopeSchema, { payload: { case: "goodbye", value: { reason: DisconnectReason.SHUTDOWN, message: "node shutting down" } } }));
      ctx.sent.frames++;
      p.socket.end();
      await ctx.closed(p.socket);
    });
  },
};
