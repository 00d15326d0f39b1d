import type { MutualTls } from "@timenet/grpc";
import { CliError, ExitCode } from "../cli-error.js";
import type { CommandReport } from "../command-report.js";
import { connectionMatrix, missingLinks, type MatrixCell } from "../connection-matrix.js";
import { readFleetFile } from "../fleet-file.js";
import { valueDrifts, type ValueDrift } from "../fleet-drift.js";
import { probeFleet, type HostReport } from "../fleet-probe.js";
import { checkForks, forksOf, type ForkCheck } from "../fork-check.js";
import { formatDrift, formatHostTable } from "../format-fleet.js";
import { formatMatrix } from "../format-matrix.js";
import { partJson } from "../part.js";
import { gatewayJson, tipJson } from "./status.js";

export interface StatusAllRequest {
  hostsFile: string;
  /** Ports of hosts whose entry names none. */
  ports: { gateway: number; store: number };
  timeoutMs: number;
  /** The operator's client cert (mutual TLS), if any: one for the whole fleet (one operator CA). */
  tls?: MutualTls | undefined;
  json: boolean;
  /** Colour MISSING (stdout is a terminal). */
  color: boolean;
  now(): number;
}

interface FleetStatus {
  hosts: HostReport[];
  matrix: MatrixCell[][];
  missing: Array<[string, string]>;
  drifts: ValueDrift[];
  forks: ForkCheck;
  problems: string[];
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What keeps the fleet from being healthy, one short phrase each; empty when all is well. */
function fleetProblems(f: Omit<FleetStatus, "problems">): string[] {
  const down = f.hosts.filter((h) => !h.gateway.ok || !h.tip.ok).length;
  const forks = forksOf(f.forks).length;
  return [
    ...(down > 0 ? [`${plural(down, "host")} unreachable`] : []),
    ...(f.missing.length > 0 ? [plural(f.missing.length, "missing link")] : []),
    ...f.drifts.map((d) => `${d.field} drift`),
    ...(forks > 0 ? [plural(forks, "fork")] : []),
  ];
}

function cellJson(from: string, to: string, cell: MatrixCell) {
  if (cell.state !== "outbound" && cell.state !== "inbound") return { from, to, state: cell.state };
  return { from, to, state: cell.state, connectedSinceMs: String(cell.connectedSinceMs), rttMs: cell.rttMs, connId: cell.connId };
}

function fleetJson(f: FleetStatus): unknown {
  const names = f.hosts.map((h) => h.name);
  return {
    ok: f.problems.length === 0,
    problems: f.problems,
    hosts: f.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      ip: h.ip ?? null,
      gateway: { target: h.gatewayTarget, ...(partJson(h.gateway, gatewayJson) as object) },
      blockStore: { target: h.storeTarget, ...(partJson(h.tip, tipJson) as object) },
    })),
    matrix: f.matrix.map((cells, r) => cells.map((cell, c) => cellJson(names[r]!, names[c]!, cell))),
    missing: f.missing.map(([from, to]) => ({ from, to })),
    drift: f.drifts,
    forks: { commonHeight: f.forks.commonHeight ?? null, samples: f.forks.samples },
  };
}

function fleetText(f: FleetStatus, now: number, color: boolean): string {
  const names = f.hosts.map((h) => h.name);
  const verdict = f.problems.length === 0 ? "fleet: all hosts reachable and consistent" : `fleet: ${f.problems.join(", ")}`;
  return [formatHostTable(f.hosts), `connections:\n${formatMatrix(names, f.matrix, now, color)}`, formatDrift(f.drifts, f.forks), verdict].join("\n\n");
}

/**
 * `timenetctl status --all`: every host of the fleet file at once: a host
 * table, the connection matrix, drift of identity values and forks at sampled
 * common heights. Exit 0 when all is well, 1 when anything is off, 3 when no
 * host answered at all.
 */
export async function statusAllCommand(r: StatusAllRequest): Promise<CommandReport> {
  const fleet = await readFleetFile(r.hostsFile);
  const hosts = await probeFleet(fleet, r.ports, r);
  const matrix = connectionMatrix(hosts);
  const partial = { hosts, matrix, missing: missingLinks(hosts, matrix), drifts: valueDrifts(hosts), forks: await checkForks(hosts, r) };
  const f: FleetStatus = { ...partial, problems: fleetProblems(partial) };
  const text = r.json ? JSON.stringify(fleetJson(f), null, 2) : fleetText(f, r.now(), r.color);
  if (hosts.every((h) => !h.gateway.ok && !h.tip.ok)) return { text, failure: new CliError(`no host of ${r.hostsFile} answered`, ExitCode.unreachable) };
  if (f.problems.length > 0) return { text, failure: new CliError(`fleet: ${f.problems.join(", ")}`, ExitCode.failure) };
  return { text };
}
