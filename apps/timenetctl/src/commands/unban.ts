import { UnbanPeerResponseSchema } from "@timenet/proto";
import { answeredPeer, type CommandContext } from "../command-context.js";
import { jsonText } from "../json-text.js";
import { stateLabel } from "../peer-labels.js";

/** `timenetctl unban <ip>`. */
export async function unbanCommand(ctx: CommandContext, ip: string): Promise<string> {
  const res = await ctx.registry.unbanPeer({ ip }, ctx.call);
  if (ctx.json) return jsonText(UnbanPeerResponseSchema, res);
  const peer = answeredPeer(res.peer);
  return `unbanned ${peer.ip} (now ${stateLabel(peer)})`;
}
