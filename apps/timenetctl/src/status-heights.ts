import type { ChainTip, StatusResponse } from "@timenet/proto";
import type { GatewayView } from "./node-probes.js";
import { valueOf, type Part } from "./part.js";

/** Our height and the best peer's, with where each came from (the first service that answered). */
export interface StatusHeights {
  ours?: { height: number; from: "chain-sync" | "block-store" | "gateway" };
  bestPeer?: { height: number; ip: string; from: "chain-sync" | "peers" };
}

/**
 * chain-sync's view when it answers; else our height from the store's tip (or
 * the gateway's Hello) and the best peer from the peers' announced heights.
 */
export function statusHeights(gateway: Part<GatewayView>, sync: Part<StatusResponse>, tip: Part<ChainTip>): StatusHeights {
  const s = valueOf(sync);
  if (s) return { ours: { height: s.ourHeight, from: "chain-sync" }, bestPeer: { height: s.bestPeerHeight, ip: s.bestPeerIp, from: "chain-sync" } };
  const t = valueOf(tip);
  const gw = valueOf(gateway);
  const heights: StatusHeights = {};
  if (t) heights.ours = { height: t.height, from: "block-store" };
  else if (gw) heights.ours = { height: gw.info.bestHeight, from: "gateway" };
  const best = gw?.connections.reduce<(typeof gw.connections)[number] | undefined>((a, c) => (a === undefined || c.bestHeight > a.bestHeight ? c : a), undefined);
  if (best) heights.bestPeer = { height: best.bestHeight, ip: best.ip, from: "peers" };
  return heights;
}
