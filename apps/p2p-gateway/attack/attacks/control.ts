import type { Attack } from "../attack.js";

/** No attack: what the budgets read on the devnet left alone, for comparison. */
export const control: Attack = {
  name: "none",
  description: "no attack (control: the devnet as it runs alone)",
  subnets: 0,
  async run(ctx) {
    while (ctx.running) await ctx.pause(1_000);
  },
};
