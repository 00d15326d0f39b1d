import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { DisconnectReason, PeerDirection, PeerSchema, PeerSource, PeerState, StatsResponseSchema } from "@timenet/proto";
import { formatFields, formatTable } from "../src/format-table.js";
import { formatPeersTable } from "../src/format-peers.js";
import { formatPeer } from "../src/format-peer.js";
import { formatStatsLine } from "../src/format-stats.js";

const NOW = Date.parse("2025-01-01T12:00:00.000Z");

/** The start of each column in a line, by header text. */
function columnStarts(header: string, names: string[]): number[] {
  return names.map((n) => header.indexOf(n));
}

test("formatTable aligns columns two spaces apart, right-aligns numbers, leaves no trailing spaces", () => {
  const text = formatTable(
    [{ header: "NAME" }, { header: "N", align: "right" }, { header: "NOTE" }],
    [
      ["a", "1", "x"],
      ["longer-name", "12345", ""],
    ],
  );
  assert.equal(text, ["NAME             N  NOTE", "a                1  x", "longer-name  12345"].join("\n"));
});

test("formatTable with no rows is the header line alone", () => {
  assert.equal(formatTable([{ header: "IP" }, { header: "PORT", align: "right" }], []), "IP  PORT");
});

test("formatFields aligns the values of one record", () => {
  assert.equal(formatFields([["ip", "1.2.3.4"], ["best height", "7"], ["empty", ""]]), "ip:           1.2.3.4\nbest height:  7\nempty:");
});

test("the peers table: every column lines up and values read as an operator expects", () => {
  const peers = [
    create(PeerSchema, {
      ip: "2001:db8::7",
      port: 24100,
      state: PeerState.BANNED,
      lastDisconnectReason: DisconnectReason.PING_TIMEOUT,
      banUntilMs: BigInt(NOW + 7_260_000),
      banReason: "spam",
      source: PeerSource.PEER_EXCHANGE,
      score: -12.25,
    }),
    create(PeerSchema, {
      ip: "10.0.0.2",
      port: 24100,
      state: PeerState.CONNECTED,
      direction: PeerDirection.OUTBOUND,
      connectedSinceMs: BigInt(NOW - 3_723_000),
      bestHeight: 1234,
      nodeId: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
      encryption: "noise-xx",
      connId: 3,
      source: PeerSource.OPERATOR,
      persistent: true,
      allowListed: true,
    }),
  ];
  const lines = formatPeersTable(peers, NOW).split("\n");
  assert.equal(lines.length, 3);
  const names = ["IP", "PORT", "NODE ID", "LINK", "STATE", "DIR", "CONNECTED FOR", "HEIGHT", "SCORE", "SOURCE", "FLAGS", "LAST DISCONNECT", "BAN"];
  const starts = columnStarts(lines[0]!, names);
  assert.ok(starts.every((s, i) => i === 0 || s > starts[i - 1]!), lines[0]);
  // Sorted by IP: IPv4 before IPv6. Left-aligned cells start at their header.
  const [v4, v6] = [lines[1]!, lines[2]!];
  assert.equal(v4.slice(0, 8), "10.0.0.2");
  assert.equal(v4.slice(starts[4]!, starts[4]! + 9), "connected");
  assert.equal(v4.slice(starts[5]!, starts[5]! + 3), "out");
  assert.equal(v4.slice(starts[9]!, starts[9]! + 8), "operator");
  assert.equal(v4.slice(starts[10]!, starts[10]! + 23), "allow-listed,persistent");
  assert.match(v4, /1h 2m\s+1234\s+0\.0/);
  // The proven node id, short, and how the link is protected; nothing for a peer not connected.
  assert.equal(v4.slice(starts[2]!, starts[2]! + 16), "0011223344556677");
  assert.equal(v4.slice(starts[3]!, starts[3]! + 8), "noise-xx");
  assert.equal(v6.slice(starts[3]!, starts[3]! + 2), "- ");
  assert.equal(v6.slice(starts[4]!, starts[4]! + 6), "banned");
  assert.equal(v6.slice(starts[9]!, starts[9]! + 13), "peer_exchange");
  assert.equal(v6.slice(starts[11]!, starts[11]! + 12), "ping_timeout");
  assert.equal(v6.slice(starts[12]!), "2h 1m (spam)");
  assert.match(v6, /-12\.3/);
  // Right-aligned numbers end where their header ends.
  const portEnd = starts[1]! + "PORT".length;
  assert.equal(v4.slice(portEnd - 5, portEnd), "24100");
  assert.equal(v6.slice(portEnd - 5, portEnd), "24100");
});

test("the peer detail view has one aligned line per field, hashes in hex, times with ago", () => {
  const text = formatPeer(
    create(PeerSchema, {
      ip: "10.0.0.2",
      port: 24100,
      bestHash: Uint8Array.from([0xab, 0x01]),
      firstSeenMs: BigInt(NOW - 60_000),
      lastDisconnectReason: DisconnectReason.DUPLICATE,
    }),
    NOW,
  );
  const lines = text.split("\n");
  const valueColumn = lines[0]!.indexOf("10.0.0.2");
  assert.ok(lines.every((l) => l.length <= valueColumn || l[valueColumn - 1] === " "));
  assert.ok(lines.length >= 26, `${lines.length} lines`);
  assert.match(text, /^best hash:\s+ab01$/m);
  assert.match(text, /^first seen:\s+2025-01-01T11:59:00\.000Z \(1m ago\)$/m);
  assert.match(text, /^last disconnect:\s+duplicate$/m);
  assert.match(text, /^next dial:\s+any time$/m);
  assert.match(text, /^state:\s+-$/m);
});

test("the stats line", () => {
  const s = create(StatsResponseSchema, { connected: 3, inbound: 1, outbound: 2, disconnected: 4, banned: 1, bookSize: 8, targetOutbound: 8 });
  assert.equal(formatStatsLine(s), "connected 3 (in 1 / out 2), disconnected 4, banned 1, book size 8, target outbound 8");
});
