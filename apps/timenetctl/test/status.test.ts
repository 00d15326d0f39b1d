// `timenetctl status` and `status --all` against real nodes: nats-server,
// block-store, p2p-gateway and chain-sync as processes on 127.0.0.141-143.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, nodePoolOf, tempDir } from "@timenet/testkit";
import { runCliProcess, type CliRun } from "./cli-process.js";
import { startNode, type TestNode } from "./node-process.js";

const OTHER_GENESIS = "ab".repeat(32);

let a: TestNode;
let b: TestNode;
let c: TestNode;
let dir: Awaited<ReturnType<typeof tempDir>>;
// A pool: if one node fails to start, the others are still stopped (their processes would keep the file running).
const { node, stopAll } = nodePoolOf(startNode);

before(async () => {
  dir = await tempDir("timenetctl-fleet-");
  [a, b, c] = await Promise.all([
    node(141, { chainSync: true }),
    node(142),
    // A gateway on another genesis: peers refuse it, status --all flags it.
    node(143, { gatewayEnv: { GENESIS_HASH: OTHER_GENESIS } }),
  ]);
  await a.extendChain(3, "main");
  await c.extendChain(3, "fork");
  await a.dial(b);
  await a.waitConnected(b);
  await b.waitConnected(a);
});

after(async () => {
  await stopAll();
  await dir?.remove();
});

/** status of one test node, its ports given by the --*-port options; the registry port is closed. */
async function status(n: TestNode, ...args: string[]): Promise<CliRun> {
  const closed = await freePort();
  const { gateway, sync, store } = n.ports;
  const ports = ["--gateway-port", String(gateway), "--sync-port", String(sync), "--store-port", String(store), "--registry-port", String(closed)];
  return runCliProcess(["status", "--node", n.ip, ...ports, ...args]);
}

/** A fleet file of `hosts` (name = "host-" + the last byte of its IP) with their test ports. */
async function fleetFile(file: string, hosts: TestNode[]): Promise<string> {
  const path = join(dir.path, file);
  const entries = hosts.map((n) => ({ name: `host-${n.ip.split(".")[3]}`, address: n.ip, gateway_port: n.ports.gateway, store_port: n.ports.store }));
  await writeFile(path, JSON.stringify(entries));
  return path;
}

const statusAll = async (file: string, ...args: string[]) => runCliProcess(["status", "--all", "--hosts", file, "--timeout", "3000", ...args]);

/** The line of a table that starts with `first`. */
const rowOf = (text: string, first: string) => text.split("\n").find((l) => l.startsWith(`${first} `));

test("status: identity, heights from chain-sync, the peer table with directions; unreachable parts do not fail it", async () => {
  const r = await status(a);
  assert.equal(r.code, 0, r.err + r.out);
  assert.equal(r.err, "");
  const id = await a.nodeId();
  assert.match(r.out, new RegExp(`^node id:\\s+${id.slice(0, 16)}$`, "m"));
  assert.match(r.out, /^network:\s+devnet$/m);
  assert.match(r.out, /^protocol:\s+\d+$/m);
  assert.match(r.out, /^genesis:\s+[0-9a-f]{16}$/m);
  assert.match(r.out, /^clock:\s+\d+\.\d s (ahead of|behind) the median of 1 peer \(too few to judge: 3 needed\)$/m);
  assert.match(r.out, /^height:\s+3 \(chain-sync\)$/m);
  assert.match(r.out, /^sync:\s+.*blocks\/s/m);
  assert.match(r.out, /^workers:\s+1 seen/m);
  assert.match(r.out, /^store tip:\s+3 [0-9a-f]{16}$/m);
  assert.match(r.out, /^registry:\s+unreachable \(cannot reach peer-registry at /m);
  assert.match(r.out, /^peers \(1\):\nIP\s+DIRECTION\s+NODE ID\s+LINK\s+CONNECTED FOR\s+RTT MS\s+HEIGHT\s+VERSION$/m);
  // b's node id as the Noise handshake proved it, and the link is encrypted.
  const bId = (await b.nodeId()).slice(0, 16);
  assert.match(rowOf(r.out, b.ip) ?? "", new RegExp(`^127\\.0\\.0\\.142\\s+outbound\\s+${bId}\\s+noise-xx\\s+\\d+s\\s+\\d+\\.\\d\\s+0\\s+\\S+$`));
  assert.match(r.out, /^recent disconnects: none$/m);

  const other = await status(b);
  assert.equal(other.code, 0, other.err);
  assert.match(rowOf(other.out, a.ip) ?? "", /^127\.0\.0\.141\s+inbound\s/);
  // No chain-sync on b: its part is unreachable, heights come from the store and the peers.
  assert.match(other.out, /^sync:\s+unreachable \(cannot reach chain-sync at 127\.0\.0\.142:\d+/m);
  assert.match(other.out, /^height:\s+0 \(block-store\)$/m);
  assert.match(other.out, /^best peer:\s+\d+ at 127\.0\.0\.141 \(peers\)$/m);
});

test("status --json: one object with every part", async () => {
  const r = await status(a, "--json");
  assert.equal(r.code, 0, r.err);
  const json = JSON.parse(r.out) as Record<string, Record<string, unknown>>;
  const info = json.gateway!.info as Record<string, unknown>;
  assert.equal(info.nodeId, await a.nodeId());
  assert.equal(info.network, "devnet");
  const conns = json.gateway!.connections as Array<Record<string, unknown>>;
  assert.deepEqual(
    conns.map((k) => [k.ip, k.direction]),
    [[b.ip, "DIRECTION_OUTBOUND"]],
  );
  assert.equal(json.chainSync!.ourHeight, 3);
  assert.equal((json.blockStore!.tip as Record<string, unknown>).height, 3);
  assert.equal(json.registry!.unreachable, true);
  assert.deepEqual(json.heights!.ours, { height: 3, from: "chain-sync" });
});

test("status --all: the host table and a 2x2 matrix with → and ←, no MISSING, exit 0", async () => {
  const file = await fleetFile("two.json", [a, b]);
  const r = await statusAll(file);
  assert.equal(r.code, 0, r.err + r.out);
  assert.equal(r.err, "");
  assert.match(r.out, /^NAME\s+ADDRESS\s+VERSION\s+PROTOCOL\s+NETWORK\s+GENESIS\s+HEIGHT\s+PEERS\s+CLOCK$/m);
  // One peer each: each clock is shown against it, not judged (CLOCK_MIN_PEERS is 3).
  assert.match(rowOf(r.out, "host-141") ?? "", /^host-141\s+127\.0\.0\.141\s+\S+\s+\d+\s+devnet\s+[0-9a-f]{16}\s+3\s+1\s+[+-]\d+\.\ds \(1\/3 peers\)$/);
  assert.match(rowOf(r.out, "host-142") ?? "", /^host-142\s+127\.0\.0\.142\s+\S+\s+\d+\s+devnet\s+[0-9a-f]{16}\s+0\s+1\s+[+-]\d+\.\ds \(1\/3 peers\)$/);
  const matrix = r.out.slice(r.out.indexOf("connections:"));
  assert.match(matrix, /^\s+host-141\s+host-142$/m);
  assert.match(matrix, /^host-141\s+--\s+→ \d+s \d+\.\dms$/m);
  assert.match(matrix, /^host-142\s+← \d+s \d+\.\dms\s+--$/m);
  assert.doesNotMatch(r.out, /MISSING/);
  assert.match(r.out, /^drift:\n {2}none: /m);
  assert.match(r.out, /block hashes compared at heights 0 \(common height 0\)/);
  assert.match(r.out, /^fleet: all hosts reachable and consistent$/m);

  const json = JSON.parse((await statusAll(file, "--json")).out) as Record<string, unknown>;
  assert.equal(json.ok, true);
  const cells = (json.matrix as Array<Array<Record<string, unknown>>>).flat().map((k) => `${k.from}>${k.to}:${k.state}`);
  assert.deepEqual(cells, ["host-141>host-141:self", "host-141>host-142:outbound", "host-142>host-141:inbound", "host-142>host-142:self"]);
});

test("status --all: a gateway on another genesis is flagged, its links MISSING (plain text, not a TTY), forks found, exit 1", async () => {
  const r = await statusAll(await fleetFile("three.json", [a, b, c]));
  assert.equal(r.code, 1, r.err + r.out);
  assert.match(r.out, /^ {2}genesis: 2 distinct values: host-143 differs \([0-9a-f]{16} on host-141, host-142; abababababababab on host-143\)$/m);
  assert.match(r.out, /^host-143\s+MISSING\s+MISSING\s+--$/m);
  assert.ok(!r.out.includes("\u001b["), "no ANSI colour when stdout is not a terminal");
  assert.match(r.err, /^timenetctl: fleet: 4 missing links, genesis drift\n$/);

  // a and c both have 3 blocks, on different chains: every sampled height differs.
  const forked = await statusAll(await fleetFile("forked.json", [a, c]));
  assert.equal(forked.code, 1);
  for (const h of [3, 2, 1]) assert.match(forked.out, new RegExp(`^ {2}FORK at height ${h}: host-141 [0-9a-f]{16} vs host-143 [0-9a-f]{16}$`, "m"));
  assert.match(forked.err, /genesis drift, 3 forks/);
});

test("status --all and status after a gateway stops: that host unreachable, non-zero exits", async () => {
  const file = await fleetFile("two-down.json", [a, b]);
  await b.gateway.stop();
  const r = await statusAll(file);
  assert.equal(r.code, 1, r.err + r.out);
  assert.match(rowOf(r.out, "host-142") ?? "", /^host-142\s+127\.0\.0\.142\s+unreachable\s/);
  assert.match(r.out, /^host-142: gateway unreachable \(cannot reach p2p-gateway at 127\.0\.0\.142:\d+ /m);
  assert.match(r.out, /^host-141\s+--\s+\?$/m);
  assert.match(r.err, /^timenetctl: fleet: 1 host unreachable\n$/);

  const one = await status(b);
  assert.equal(one.code, 3);
  assert.match(one.out, /^gateway:\s+unreachable/m);
  assert.match(one.out, /^store tip:\s+0 [0-9a-f]{16}$/m, "the rest is still shown");
  assert.match(one.err, /^timenetctl: cannot reach p2p-gateway at 127\.0\.0\.142:\d+ \(is the node running\?\)\n$/);
});

test("status --all: no host answering exits 3; a bad fleet file exits 2", async () => {
  const closed = await freePort();
  const path = join(dir.path, "down.json");
  await writeFile(path, JSON.stringify([{ name: "x", address: "127.0.0.1", gateway_port: closed, store_port: closed }]));
  const r = await statusAll(path);
  assert.equal(r.code, 3, r.err);
  assert.match(r.err, /no host of .*down\.json answered/);
  const missing = await statusAll(join(dir.path, "nope.json"));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /^timenetctl: cannot read fleet file .*nope\.json \(ENOENT\); pass --hosts FILE\n$/);
});
