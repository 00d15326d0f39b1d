import { ListPeersResponseSchema, PeerState, PeerStateSchema, enumLabel } from "@timenet/proto";
import type { CommandContext } from "../command-context.js";
import { formatPeersTable } from "../format-peers.js";
import { formatStatsLine } from "../format-stats.js";
import { jsonText } from "../json-text.js";

/** `timenetctl peers [--state s]`: the peer book as a table and the stats line. */
export async function peersCommand(ctx: CommandContext, state: PeerState): Promise<string> {
  const list = await ctx.registry.listPeers({ state }, ctx.call);
  if (ctx.json) return jsonText(ListPeersResponseSchema, list);
  const stats = await ctx.registry.stats({}, ctx.call);
  const table =
    list.peers.length > 0
      ? formatPeersTable(list.peers, ctx.now())
      : state === PeerState.UNSPECIFIED
        ? "no peers in the book"
        : `no ${enumLabel(PeerStateSchema, state, "-")} peers`;
  return `${table}\n\n${formatStatsLine(stats)}`;
}
