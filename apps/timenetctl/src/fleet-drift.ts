import type { GetInfoResponse } from "@timenet/proto";
import type { HostReport } from "./fleet-probe.js";
import { fullHex } from "./status-labels.js";

/** A value every host should share, with the hosts holding each value (the most common first). */
export interface ValueDrift {
  field: string;
  values: Array<{ value: string; hosts: string[] }>;
  /** The hosts outside the first (most common) group. */
  differing: string[];
}

const FIELDS: ReadonlyArray<readonly [field: string, read: (info: GetInfoResponse) => string]> = [
  ["genesis", (i) => fullHex(i.genesisHash)],
  ["protocol", (i) => String(i.protocolVersion)],
  ["software", (i) => i.softwareVersion],
  ["network", (i) => i.network],
];

/** Groups `[host, value]` pairs by value, the largest group first (ties: in host order). */
export function groupByValue(pairs: ReadonlyArray<readonly [host: string, value: string]>): Array<{ value: string; hosts: string[] }> {
  const groups = new Map<string, string[]>();
  for (const [host, value] of pairs) groups.set(value, [...(groups.get(value) ?? []), host]);
  return [...groups].map(([value, hosts]) => ({ value, hosts })).sort((a, b) => b.hosts.length - a.hosts.length);
}

/** The identity fields (genesis, protocol, software, network) on which the reachable gateways disagree. */
export function valueDrifts(hosts: readonly HostReport[]): ValueDrift[] {
  const infos = hosts.flatMap((h) => (h.gateway.ok ? [[h.name, h.gateway.value.info] as const] : []));
  return FIELDS.flatMap(([field, read]) => {
    const values = groupByValue(infos.map(([name, info]) => [name, read(info)] as const));
    return values.length > 1 ? [{ field, values, differing: values.slice(1).flatMap((v) => v.hosts) }] : [];
  });
}
