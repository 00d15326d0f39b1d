// An honest newcomer beside an attack that fights for the victim's inbound
// slots: one at a time from /24s of its own, each a full Noise + Hello
// handshake at once, counted, then gone. The check is that newcomers get in,
// not only that the victim evicted someone.
import type { AttackContext } from "./attack-context.js";
import type { Tally } from "./attack.js";

/** /24s of the honest newcomers (the probe's own). */
export const NEWCOMER_SUBNETS = 8;
/** Newcomers start once the attack holds the slots, then one every 500 ms. */
const NEWCOMER_HEAD_START_MS = 3_000;
const NEWCOMER_EVERY_MS = 500;
/** A newcomer is only tried with this long left: its handshake may take up to 5 s (AttackContext.peer). */
const NEWCOMER_NEEDS_MS = 6_000;
/** Share of honest newcomers that must get in. */
const NEWCOMERS_ADMITTED = 0.9;

/** The probe: newcomers one at a time until the attack's end is near. */
export async function newcomers(ctx: AttackContext): Promise<void> {
  await ctx.pause(NEWCOMER_HEAD_START_MS);
  for (let n = 0; ctx.running && ctx.remainingMs >= NEWCOMER_NEEDS_MS; n++) {
    ctx.count("newcomer_tries");
    const started = performance.now();
    const p = await ctx.peer(ctx.target(n), ctx.address(n), { hello: true });
    if (p) {
      ctx.count("newcomer_admitted");
      ctx.count("newcomer_handshake_ms", performance.now() - started);
      p.close();
    }
    await ctx.pause(NEWCOMER_EVERY_MS);
  }
}

/** What the newcomers saw (one line), and a broken budget if too few got in. */
export function newcomersAdmitted(tally: Readonly<Tally>, against: string): { seen: string; broken?: string } {
  const tries = tally.newcomer_tries ?? 0;
  const admitted = tally.newcomer_admitted ?? 0;
  const meanMs = admitted > 0 ? (tally.newcomer_handshake_ms ?? 0) / admitted : 0;
  const seen = `honest newcomers admitted: ${admitted} of ${tries}, handshake ${Math.round(meanMs)} ms on average`;
  if (tries === 0) return { seen, broken: "no honest newcomer was tried" };
  if (admitted < tries * NEWCOMERS_ADMITTED) return { seen, broken: `only ${admitted} of ${tries} honest newcomers got in against ${against} (budget ${NEWCOMERS_ADMITTED * 100}%)` };
  return { seen };
}
