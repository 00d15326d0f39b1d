import { StatsResponseSchema } from "@timenet/proto";
import type { CommandContext } from "../command-context.js";
import { formatStats } from "../format-stats.js";
import { jsonText } from "../json-text.js";

/** `timenetctl stats`: the registry's counters. */
export async function statsCommand(ctx: CommandContext): Promise<string> {
  const res = await ctx.registry.stats({}, ctx.call);
  return ctx.json ? jsonText(StatsResponseSchema, res) : formatStats(res);
}
