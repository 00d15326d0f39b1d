import { randomBytes } from "node:crypto";
import { PREAMBLE } from "../../src/secure-channel.js";
import type { Attack } from "../attack.js";

const SUBNETS = 64;
/** Noise message 1: a 32-byte ephemeral key and a 16-byte network fingerprint (random here: the responder still does its DH work). */
const MESSAGE1_BYTES = 32 + 16;

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => Buffer.from([n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);

/** The openings, in turn: each is what one socket sends before the Noise channel could open. */
const OPENINGS: Array<() => Buffer> = [
  // Random bytes: their first four declare a huge preamble.
  () => randomBytes(64 * 1024),
  // A foreign first frame at the largest size read to tell an old protocol apart, then more junk.
  () => Buffer.concat([u32(4096), randomBytes(4096), randomBytes(60 * 1024)]),
  // The preamble, then a handshake message declaring 65,535 bytes, and them.
  () => Buffer.concat([PREAMBLE, u16(0xffff), randomBytes(0xffff)]),
  // The preamble and a random message 1 (the gateway answers with message 2), then a junk message 3.
  () => Buffer.concat([PREAMBLE, u16(MESSAGE1_BYTES), randomBytes(MESSAGE1_BYTES), u16(1024), randomBytes(1024)]),
  // The preamble, then junk where message 1's length belongs.
  () => Buffer.concat([PREAMBLE, randomBytes(64 * 1024)]),
];

/** Raw junk and absurd lengths before and inside the Noise handshake, from 64 /24s, reconnecting as fast as the gateway closes. */
export const junkBeforeHandshake: Attack = {
  name: "junk-before-handshake",
  description: "random bytes, 4 KiB foreign first frames, 65,535-byte handshake lengths and junk Noise messages, from 64 /24s",
  subnets: SUBNETS,
  async run(ctx) {
    let round = 0;
    await ctx.clients(SUBNETS, async (i) => {
      const s = await ctx.socket(ctx.target(i), ctx.address(i));
      if (!s) return ctx.pause(100);
      if (await ctx.write(s, OPENINGS[round++ % OPENINGS.length]!())) ctx.sent.frames++;
      // Reading what the gateway says keeps its side from waiting on us; it closes when it has seen enough.
      s.resume();
      s.end();
      await ctx.closed(s);
      s.destroy();
    });
  },
};
