import { ScriptedPeer } from "../../test/harness.js";
import type { Attack } from "../attack.js";

/**
 * The suite's devnet runs with this MAX_BANS (the default is 1024): low
 * enough that this attack overflows it in its seconds, high enough that the
 * attacks before it (64 offending IPs at most each) do not on their own.
 */
export const SUITE_MAX_BANS = 128;

const SUBNETS = 8;
const CLIENTS = 32;
/** Another genesis: a fatal offence (WRONG_GENESIS) in the Hello, so every address is banned on its first try. */
const WRONG_GENESIS = new Uint8Array(32).fill(0xbe);

/**
 * More offending addresses than the ban list holds: every connection comes
 * from a new address of 8 /24s and sends a Hello for another genesis, so
 * each one is banned at once. Past MAX_BANS each new ban lifts the one
 * that ends soonest (evicted); a lifted address, when its client comes back
 * round to it, offends again. The ban list, the admission policy the
 * gateway enforces and the book must stay bounded while honest links and
 * blocks go on.
 */
export const banListOverflow: Attack = {
  name: "ban-list-overflow",
  description: `a Hello for another genesis from a new address each time (8 /24s, ${CLIENTS} at once): more bans than MAX_BANS (${SUITE_MAX_BANS} here)`,
  subnets: SUBNETS,
  async run(ctx) {
    await ctx.clients(CLIENTS, async (i) => {
      // Client i walks its own hosts of its /24: hosts i/8, i/8+4, i/8+8, ... (4 clients per /24).
      for (let round = 0; ctx.running; round++) {
        const from = ctx.hostIn(i % SUBNETS, Math.floor(i / SUBNETS) + (CLIENTS / SUBNETS) * round);
        const target = ctx.target(i);
        const socket = await ctx.socket(target, from);
        if (!socket) continue; // banned (a lifted address not yet reached again) or paced: the next address
        const p = new ScriptedPeer(socket, ScriptedPeer.identity({ genesisHash: WRONG_GENESIS }));
        try {
          // Our Hello (for the wrong genesis) rides in our last handshake message: refused as the gateway reads it.
          await p.secured(Math.max(1, Math.min(5_000, ctx.remainingMs)));
          ctx.sent.handshakes++;
          await ctx.closed(socket);
        } catch {
          // refused inside the Noise handshake: an offence all the same, or a close before it
        } finally {
          p.close();
        }
      }
    });
  },
  verify(victims, sample) {
    const broken: string[] = [];
    const seen: string[] = [];
    for (const v of victims) {
      const inForce = sample(v.gateway, "timenet_gateway_banned_ips") ?? NaN;
      const bans = sample(v.registry, "timenet_registry_bans_total") ?? 0;
      const evicted = sample(v.registry, "timenet_registry_unbans_total", { reason: "evicted" }) ?? 0;
      const book = sample(v.registry, "timenet_registry_book_size") ?? NaN;
      const policies = sample(v.registry, "timenet_registry_admission_policy_publishes_total", { result: "ok" }) ?? NaN;
      seen.push(`n${v.node}: ${bans} bans since start, ${evicted} lifted early, ${inForce} enforced by the gateway, ${policies} policies written, book ${book}`);
      if (!(inForce <= SUITE_MAX_BANS)) broken.push(`n${v.node}'s gateway enforces ${inForce} bans (MAX_BANS ${SUITE_MAX_BANS})`);
      if (evicted === 0) broken.push(`n${v.node}'s ban list never overflowed (no ban evicted): the attack proved nothing`);
    }
    return { broken, seen: seen.join("; ") };
  },
};
