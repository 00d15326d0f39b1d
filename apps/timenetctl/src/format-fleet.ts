import type { ValueDrift } from "./fleet-drift.js";
import type { HostReport } from "./fleet-probe.js";
import type { ForkCheck, HeightSample } from "./fork-check.js";
import { formatTable, type Column } from "./format-table.js";
import { clockCell, shortHex, unreachableLabel } from "./status-labels.js";

const HOST_COLUMNS: readonly Column[] = [
  { header: "NAME" },
  { header: "ADDRESS" },
  { header: "VERSION" },
  { header: "PROTOCOL", align: "right" },
  { header: "NETWORK" },
  { header: "GENESIS" },
  { header: "HEIGHT", align: "right" },
  { header: "PEERS", align: "right" },
  { header: "CLOCK" },
];

/** The host table of `status --all`, then a line per service that did not answer. */
export function formatHostTable(hosts: readonly HostReport[]): string {
  const rows = hosts.map((h) => {
    const height = h.tip.ok ? String(h.tip.value.height) : "?";
    if (!h.gateway.ok) return [h.name, h.address, "unreachable", "-", "-", "-", height, "-", "-"];
    const { info, connections } = h.gateway.value;
    return [h.name, h.address, info.softwareVersion || "-", String(info.protocolVersion), info.network || "-", shortHex(info.genesisHash), height, String(connections.length), clockCell(info)];
  });
  const down = hosts.flatMap((h) => [
    ...(h.gateway.ok ? [] : [`${h.name}: gateway ${unreachableLabel(h.gateway.error)}`]),
    ...(h.tip.ok ? [] : [`${h.name}: block-store ${unreachableLabel(h.tip.error)}`]),
  ]);
  return [formatTable(HOST_COLUMNS, rows), ...down].join("\n");
}

const shown = (field: string, value: string) => (field === "genesis" ? shortHex(value) : value || '""');

/** "genesis: 2 distinct values: host-3 differs (0123… on host-1, host-2; fedc… on host-3)". */
export function formatValueDrift(d: ValueDrift): string {
  const who = `${d.differing.join(", ")} ${d.differing.length === 1 ? "differs" : "differ"}`;
  const values = d.values.map((v) => `${shown(d.field, v.value)} on ${v.hosts.join(", ")}`).join("; ");
  return `${d.field}: ${d.values.length} distinct values: ${who} (${values})`;
}

/** "FORK at height H: host-a <hash> vs host-b <hash>", one line per group that disagrees with the most common hash. */
export function formatFork(s: HeightSample): string[] {
  const [main, ...others] = s.hashes;
  return others.map((o) => `FORK at height ${s.height}: ${main!.hosts[0]} ${shortHex(main!.value)} vs ${o.hosts[0]} ${shortHex(o.value)}`);
}

/** The drift section: identity fields that differ, forks at the sampled heights, or that everything agrees. */
export function formatDrift(drifts: readonly ValueDrift[], check: ForkCheck): string {
  const lines = drifts.map(formatValueDrift);
  for (const s of check.samples) {
    lines.push(...formatFork(s));
    for (const e of s.errors) lines.push(`height ${s.height}: ${e.host} ${unreachableLabel(e.error)}`);
  }
  const heights = check.samples.map((s) => s.height).join(", ");
  const blocks =
    check.commonHeight === undefined ? "no block-store answered: blocks not compared" : `block hashes compared at heights ${heights} (common height ${check.commonHeight})`;
  if (lines.length === 0) lines.push("none: genesis, protocol, software and network agree");
  return ["drift:", ...lines.map((l) => `  ${l}`), `  ${blocks}`].join("\n");
}
