import { BanPeerResponseSchema } from "@timenet/proto";
import { answeredPeer, type CommandContext } from "../command-context.js";
import { jsonText } from "../json-text.js";
import { formatTimestamp } from "../timestamp.js";

/** `timenetctl ban <ip>`: durationMs 0 leaves the length to the registry's default. */
export async function banCommand(ctx: CommandContext, ip: string, durationMs: number, reason: string): Promise<string> {
  const res = await ctx.registry.banPeer({ ip, durationMs: BigInt(durationMs), reason }, ctx.call);
  if (ctx.json) return jsonText(BanPeerResponseSchema, res);
  const peer = answeredPeer(res.peer);
  const why = peer.banReason ? `: ${peer.banReason}` : "";
  return `banned ${peer.ip} until ${formatTimestamp(peer.banUntilMs, ctx.now())}${why}`;
}
