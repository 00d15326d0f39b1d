import { increase, type Attack } from "../attack.js";
import { NEWCOMER_SUBNETS, newcomers, newcomersAdmitted } from "../newcomers.js";

const PEERS = 240;
/** Up to the registry's default per-/24 inbound limit from each /24. */
const PER_SUBNET = 4;

/**
 * A crowd of strangers that behave: each completes the handshake, answers
 * every ping and stays, as long as the victim keeps it; evicted or refused,
 * it is back 100 ms later. 240 of them against the registry's 64 inbound
 * slots, while the devnet makes blocks. What it could take from the honest
 * nodes: their established links (eviction must protect them), the slots an
 * honest newcomer needs (eviction must make room, and the crowd coming
 * straight back must not keep it out), and new blocks (pushed to at most
 * max(BLOCK_PUSH_FANOUT, ⌈√n⌉) peers, our outbound ones first: the crowd
 * gets announcements). Meanwhile an honest newcomer connects every 500 ms.
 */
export const inboundCrowd: Attack = {
  name: "inbound-crowd",
  description: "240 well-behaved peers from 60 /24s that handshake, answer pings and stay, back 100 ms after an eviction; an honest newcomer every 500 ms",
  subnets: PEERS / PER_SUBNET,
  async run(ctx) {
    await ctx.peers(PEERS, { hello: true, listen: true }, async (p) => {
      p.answerPings();
      ctx.count("crowd_admitted");
      await ctx.closed(p.socket);
    });
  },
  probe: newcomers,
  probeSubnets: NEWCOMER_SUBNETS,
  verify(victims, sample, tally) {
    const broken: string[] = [];
    const seen: string[] = [`crowd peers admitted: ${tally.crowd_admitted ?? 0}`];
    for (const v of victims) {
      const evicted = increase(sample, v, "gateway", "timenet_gateway_evictions_total", { state: "established" });
      const announcedOnly = increase(sample, v, "gateway", "timenet_gateway_new_blocks_sent_total", { how: "beyond_fanout" });
      seen.push(`n${v.node}: ${evicted} established peers evicted for newcomers, ${announcedOnly} new blocks announced beyond the push fan-out`);
      // Else the crowd never filled the slots, and the row proved nothing about eviction.
      if (evicted === 0) broken.push(`n${v.node}: no established stranger was evicted: the crowd never filled the inbound slots`);
      // Else no block was made while the crowd was connected, and the row proved nothing about the fan-out.
      if (announcedOnly === 0) broken.push(`n${v.node}: no new block went beyond the push fan-out while the crowd was connected`);
    }
    const n = newcomersAdmitted(tally, "the crowd");
    seen.push(n.seen);
    if (n.broken) broken.push(n.broken);
    return { broken, seen: seen.join("; ") };
  },
};
