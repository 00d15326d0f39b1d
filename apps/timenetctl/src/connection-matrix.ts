import { Direction } from "@timenet/proto";
import type { HostReport } from "./fleet-probe.js";

/**
 * One cell of the fleet's connection matrix, as the row host sees the column
 * host: itself, a connection (dialled by the row: outbound; by the column:
 * inbound), missing although both gateways answer, or unknown (one did not).
 */
export type MatrixCell =
  | { state: "self" }
  | { state: "outbound" | "inbound"; connectedSinceMs: bigint; rttMs: number; connId: number }
  | { state: "missing" }
  | { state: "unknown" };

/** rows[r][c]: host r's connection to host c, found by c's IP among r's connections. */
export function connectionMatrix(hosts: readonly HostReport[]): MatrixCell[][] {
  return hosts.map((row, r) =>
    hosts.map((col, c): MatrixCell => {
      if (r === c) return { state: "self" };
      if (!row.gateway.ok || !col.gateway.ok) return { state: "unknown" };
      const conn = col.ip === undefined ? undefined : row.gateway.value.connections.find((k) => k.ip === col.ip);
      if (!conn) return { state: "missing" };
      const state = conn.direction === Direction.OUTBOUND ? "outbound" : "inbound";
      return { state, connectedSinceMs: conn.connectedSinceMs, rttMs: conn.lastRttMs, connId: conn.connId };
    }),
  );
}

/** The [row, column] names of the missing links. */
export function missingLinks(hosts: readonly HostReport[], matrix: readonly MatrixCell[][]): Array<[string, string]> {
  return matrix.flatMap((cells, r) => cells.flatMap((cell, c) => (cell.state === "missing" ? [[hosts[r]!.name, hosts[c]!.name] as [string, string]] : [])));
}
