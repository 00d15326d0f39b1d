import { GetPeerResponseSchema } from "@timenet/proto";
import { answeredPeer, type CommandContext } from "../command-context.js";
import { formatPeer } from "../format-peer.js";
import { jsonText } from "../json-text.js";

/** `timenetctl peer <ip>`: every field of one peer. */
export async function peerCommand(ctx: CommandContext, ip: string): Promise<string> {
  const res = await ctx.registry.getPeer({ ip }, ctx.call);
  if (ctx.json) return jsonText(GetPeerResponseSchema, res);
  return formatPeer(answeredPeer(res.peer), ctx.now());
}
