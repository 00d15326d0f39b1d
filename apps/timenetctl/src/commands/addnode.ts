import { formatEndpoint } from "@timenet/net-address";
import { AddPeerResponseSchema } from "@timenet/proto";
import { answeredPeer, type CommandContext } from "../command-context.js";
import { jsonText } from "../json-text.js";
import { stateLabel } from "../peer-labels.js";

/** `timenetctl addnode <endpoint>`: a persistent peer the registry dials and keeps connected. */
export async function addnodeCommand(ctx: CommandContext, endpoint: string): Promise<string> {
  const res = await ctx.registry.addPeer({ endpoint }, ctx.call);
  if (ctx.json) return jsonText(AddPeerResponseSchema, res);
  const peer = answeredPeer(res.peer);
  const persistent = peer.persistent ? "persistent, " : "";
  return `added ${formatEndpoint(peer)} (${persistent}${stateLabel(peer)})`;
}
