// timenetctl against the real peer-registry process and a real nats-server.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { freePort, startNatsServer, type NatsServerHandle } from "@timenet/testkit";
import { runCliProcess, type CliRun } from "./cli-process.js";
import { startRegistry, type RegistryProcess } from "./registry-process.js";

let nats: NatsServerHandle | undefined;
let registry: RegistryProcess | undefined;

before(async () => {
  nats = await startNatsServer();
  registry = await startRegistry(nats.url);
});

after(async () => {
  await registry?.stop();
  await nats?.stop();
});

const PEER = "127.0.0.9";

/** timenetctl pointed at the test registry. */
async function ctl(...args: string[]): Promise<CliRun> {
  return runCliProcess(["--node", "127.0.0.1", "--registry-port", String(registry!.grpcPort), ...args]);
}

/** Runs and expects success, with nothing on stderr. */
async function ok(...args: string[]): Promise<string> {
  const r = await ctl(...args);
  assert.equal(r.code, 0, `timenetctl ${args.join(" ")} exited ${r.code}: ${r.err}`);
  assert.equal(r.err, "");
  return r.out;
}

async function okJson(...args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse(await ok("--json", ...args)) as Record<string, unknown>;
}

function assertOneLineFailure(r: CliRun, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}, stderr: ${r.err}`);
  assert.equal(r.out, "");
  assert.match(r.err, /^timenetctl: [^\n]+\n$/, r.err);
  assert.match(r.err, pattern);
}

/** The table line of one IP. */
function rowOf(table: string, ip: string): string | undefined {
  return table.split("\n").find((line) => line.startsWith(`${ip} `));
}

type JsonPeer = Record<string, unknown>;
const peersOf = (json: Record<string, unknown>) => json.peers as JsonPeer[];

test("addnode adds a persistent operator peer that peers lists (table and JSON)", async () => {
  assert.match(await ok("addnode", `${PEER}:24100`), new RegExp(`^added ${PEER.replaceAll(".", "\\.")}:24100 \\(persistent, \\w+\\)\\n$`));

  const table = await ok("peers");
  const lines = table.trimEnd().split("\n");
  assert.match(lines[0]!, /^IP\s+PORT\s+NODE ID\s+LINK\s+STATE\s+DIR\s+CONNECTED FOR\s+HEIGHT\s+SCORE\s+SOURCE\s+FLAGS\s+LAST DISCONNECT\s+BAN$/);
  const row = rowOf(table, PEER);
  assert.ok(row, table);
  assert.match(row, /\s24100\s/);
  assert.match(row, /\soperator\s/);
  assert.match(row, /\spersistent\b/);
  assert.match(lines.at(-1)!, /^connected \d+ \(in \d+ \/ out \d+\), disconnected \d+, banned \d+, book size \d+, target outbound \d+$/);

  const json = await okJson("peers");
  const peer = peersOf(json).find((p) => p.ip === PEER);
  assert.ok(peer, JSON.stringify(json));
  assert.equal(peer.port, 24100);
  assert.equal(peer.source, "PEER_SOURCE_OPERATOR");
  assert.equal(peer.persistent, true);
  assert.equal(peer.banUntilMs, "0", "64-bit ints are JSON strings");
});

test("addnode without a port uses 24100, and an IPv6 endpoint is accepted", async () => {
  const bare = await okJson("addnode", "127.0.0.10");
  assert.equal((bare.peer as JsonPeer).port, 24100);
  const v6 = await okJson("addnode", "[2001:db8::a]:24111");
  assert.equal((v6.peer as JsonPeer).ip, "2001:db8::a");
  assert.equal((v6.peer as JsonPeer).port, 24111);
});

test("peer shows every field of one peer, one per line", async () => {
  const text = await ok("peer", PEER);
  assert.match(text, /^ip:\s+127\.0\.0\.9$/m);
  assert.match(text, /^port:\s+24100$/m);
  assert.match(text, /^source:\s+operator$/m);
  assert.match(text, /^persistent:\s+yes$/m);
  assert.match(text, /^first seen:\s+\d{4}-\d\d-\d\dT[\d:.]+Z \(.+ ago\)$/m);
  assert.match(text, /^banned until:\s+-$/m);
  for (const field of ["state", "direction", "node id", "best height", "best hash", "last disconnect", "score", "times banned"]) {
    assert.match(text, new RegExp(`^${field}:`, "m"));
  }
  const json = await okJson("peer", PEER);
  assert.equal((json.peer as JsonPeer).ip, PEER);
});

test("ban shows in peers --state banned with its reason; stats counts it; unban lifts it", async () => {
  // The registry may qualify the reason (e.g. "operator: flooding us").
  assert.match(await ok("ban", PEER, "--duration", "2h", "--reason", "flooding us"), /^banned 127\.0\.0\.9 until \S+Z \(in (2h|1h 59m)\): .*flooding us\n$/);

  const banned = await ok("peers", "--state", "banned");
  const row = rowOf(banned, PEER);
  assert.ok(row, banned);
  assert.match(row, /\sbanned\s/);
  assert.match(row, /\s(2h|1h 59m) \(.*flooding us\)$/);
  const bannedJson = peersOf(await okJson("peers", "--state", "banned"));
  assert.deepEqual(
    bannedJson.map((p) => [p.ip, p.state]),
    [[PEER, "PEER_STATE_BANNED"]],
  );
  assert.match(String(bannedJson[0]!.banReason), /flooding us$/);
  assert.equal((await okJson("stats")).banned, 1);

  assert.match(await ok("unban", PEER), /^unbanned 127\.0\.0\.9 \(now \w+\)\n$/);
  assert.match(await ok("peers", "--state", "banned"), /^no banned peers\n\nconnected /);
  const after = (await okJson("peer", PEER)).peer as JsonPeer;
  assert.notEqual(after.state, "PEER_STATE_BANNED");
  assert.equal(after.banUntilMs, "0");
});

test("ban without --duration uses the registry's default", async () => {
  const ban = (await okJson("ban", "127.0.0.10")).peer as JsonPeer;
  assert.equal(ban.state, "PEER_STATE_BANNED");
  assert.ok(Number(ban.banUntilMs) > Date.now(), String(ban.banUntilMs));
  await ok("unban", "127.0.0.10");
});

test("stats --json counts the book", async () => {
  const stats = await okJson("stats");
  const all = peersOf(await okJson("peers"));
  assert.equal(stats.bookSize, all.length);
  assert.equal(stats.banned, 0);
  assert.equal(stats.connected, 0, "no gateway runs, so nothing is connected");
  assert.equal(stats.inbound, 0);
  assert.equal(stats.outbound, 0);
  assert.equal(typeof stats.targetOutbound, "number");
  assert.match(await ok("stats"), /^book size:\s+\d+$/m);
});

test("a bad IP fails locally: one line, exit 2", async () => {
  assertOneLineFailure(await ctl("peer", "1.2.3"), 2, /^timenetctl: "1\.2\.3" is not an IP address\n$/);
});

test("an unknown peer: the registry's NOT_FOUND details in one line, exit 4", async () => {
  assertOneLineFailure(await ctl("peer", "10.9.9.9"), 4, /10\.9\.9\.9/);
});

test("a registry port where nothing listens: one line, exit 3", async () => {
  const closed = await freePort();
  const r = await runCliProcess(["--node", "127.0.0.1", "--registry-port", String(closed), "peers"]);
  assertOneLineFailure(r, 3, new RegExp(`^timenetctl: cannot reach peer-registry at 127\\.0\\.0\\.1:${closed} \\(is the node running\\?\\)\\n$`));
});
