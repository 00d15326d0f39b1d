import { randomBytes } from "node:crypto";
import type { ScriptedPeer } from "../../test/harness.js";
import type { Attack } from "../attack.js";
import type { AttackContext } from "../attack-context.js";
import { frame } from "../frames.js";

const SUBNETS = 64;

/** What one established attacker sends, in turn: junk inside the channel, and outside it. */
const JUNK: Array<(ctx: AttackContext, p: ScriptedPeer) => Promise<boolean>> = [
  // Sealed random bytes: a random frame length, then whatever follows.
  (ctx, p) => ctx.seal(p, randomBytes(64 * 1024)),
  // A well-formed frame whose body does not decode as an Envelope.
  (ctx, p) => ctx.seal(p, frame(randomBytes(60 * 1024))),
  // Random bytes outside the channel: they do not authenticate.
  (ctx, p) => ctx.write(p.socket, randomBytes(64 * 1024)),
];

/** Junk after a completed handshake (inside and outside the channel), from 64 /24s, reconnecting after every close. */
export const junkAfterHandshake: Attack = {
  name: "junk-after-handshake",
  description: "complete the handshake, then random sealed bytes, undecodable frames or unsealed junk, from 64 /24s",
  subnets: SUBNETS,
  async run(ctx) {
    let round = 0;
    await ctx.peers(SUBNETS, { hello: true }, async (p) => {
      if (await JUNK[round++ % JUNK.length]!(ctx, p)) ctx.sent.frames++;
      await ctx.closed(p.socket);
    });
  },
};
