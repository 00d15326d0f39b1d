import { increase, type Attack } from "../attack.js";
import type { AttackContext } from "../attack-context.js";
import { PREAMBLE } from "../../src/secure-channel.js";
import { NEWCOMER_SUBNETS, newcomers, newcomersAdmitted } from "../newcomers.js";

const SOCKETS = 500;
/** Up to the registry's default per-/24 inbound limit from each /24. */
const PER_SUBNET = 4;
const TRICKLE_MS = 1_000;
const FLOOD_SUBNETS = SOCKETS / PER_SUBNET;

/**
 * 500 sockets held open as long as the gateway lets them: half trickle the
 * preamble one byte a second (never reaching the Noise handshake), half
 * complete the handshake and trickle a frame one byte a second (a frame that
 * never completes). A refused one tries again a second later, an evicted one
 * at once (as a flood that wants the slots back would). The inbound
 * slots fill, so the victim must evict the stalled handshakes for newcomers
 * (HANDSHAKE_EVICTABLE_AFTER). Meanwhile an honest newcomer from a fresh /24
 * connects every 500 ms (a full Noise + Hello handshake at once, then it
 * leaves): the check is that newcomers get in, not only that stalled
 * handshakes were evicted.
 */
export const slowloris: Attack = {
  name: "slowloris",
  description: "500 sockets from 125 /24s: half trickle the preamble, half an endless frame after the handshake, 1 byte/s each; an honest newcomer every 500 ms",
  subnets: FLOOD_SUBNETS,
  run: flood,
  probe: newcomers,
  probeSubnets: NEWCOMER_SUBNETS,
  verify(victims, sample, tally) {
    const broken: string[] = [];
    const seen: string[] = [];
    for (const v of victims) {
      const handshaking = increase(sample, v, "gateway", "timenet_gateway_evictions_total", { state: "handshaking" });
      seen.push(`n${v.node}: ${handshaking} stalled handshakes evicted for newcomers`);
      // 500 sockets against the registry's 64 inbound slots: the stalled ones must give way, or an honest peer reconnecting would find none.
      if (handshaking === 0) broken.push(`n${v.node}: no stalled handshake gave its slot to a newcomer`);
    }
    const n = newcomersAdmitted(tally, "the flood");
    seen.push(n.seen);
    if (n.broken) broken.push(n.broken);
    return { broken, seen: seen.join("; ") };
  },
};

async function flood(ctx: AttackContext): Promise<void> {
  await ctx.clients(SOCKETS, async (i) => {
    const target = ctx.target(i);
    const from = ctx.address(i);
    if (i % 2 === 0) {
      const s = await ctx.socket(target, from);
      if (!s) return ctx.pause(TRICKLE_MS);
      s.resume();
      for (let at = 0; ctx.running && !s.destroyed; at++) {
        await ctx.write(s, PREAMBLE.subarray(at % PREAMBLE.length, (at % PREAMBLE.length) + 1));
        await ctx.pause(TRICKLE_MS);
      }
      s.destroy();
    } else {
      const p = await ctx.peer(target, from, { hello: true });
      if (!p) return ctx.pause(TRICKLE_MS);
      ctx.deaf(p);
      // A frame header declaring 1 MiB, then its body a byte at a time.
      const header = Buffer.from([0, 0x10, 0, 0]);
      for (let at = 0; ctx.running && !p.socket.destroyed; at++) {
        await ctx.seal(p, at < header.length ? header.subarray(at, at + 1) : Buffer.from([0]));
        await ctx.pause(TRICKLE_MS);
      }
      p.close();
    }
  });
}
