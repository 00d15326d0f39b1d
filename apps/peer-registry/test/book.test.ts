// The peer book's rules, on a real LMDB store in a temp dir, without a network.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { ConnectionSchema, Direction, DisconnectReason, OffenceKind, OffenceSchema, PeerConnectedSchema, PeerDisconnectedSchema, PeerState, Severity } from "@timenet/proto";
import { createLogger, createRegistry } from "@timenet/telemetry";
import { tempDir } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { PeerBook } from "../src/peer-book.js";
import { PeerStore } from "../src/peer-store.js";
import { RegistryMetrics } from "../src/metrics.js";
import { resolveRegistryOptions, type RegistryOptions } from "../src/options.js";
import { backoffDelayMs } from "../src/backoff.js";
import { banDurationMs, decayedScore } from "../src/scoring.js";
import { parseRegistryEnv, registryEnvSchema } from "../src/config.js";

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function makeBook(extra: Partial<RegistryOptions> = {}) {
  const dir = await tempDir("book-");
  const store = PeerStore.open(join(dir.path, "peers"));
  cleanups.push(async () => {
    await store.close().catch(() => undefined);
    await dir.remove();
  });
  const options = resolveRegistryOptions({ natsUrl: "nats://unused", dbPath: dir.path, publicIp: "10.0.0.50" as PeerIp, passiveWaitMs: 30_000, ...extra });
  let policyChanges = 0;
  const ref: { book?: PeerBook } = {};
  const metrics = new RegistryMetrics(createRegistry({ service: "t", collectDefault: false }), () => ref.book!.counts());
  const book = new PeerBook({ options, store, metrics, logger: createLogger({ service: "t", level: "silent" }), onPolicyChange: () => policyChanges++, random: () => 0.5 });
  ref.book = book;
  book.load(1_000);
  return { book, store, dir, metrics, policyChanges: () => policyChanges };
}

const ip = (s: string) => s as PeerIp;
const connected = (addr: string, connId: number, direction = Direction.OUTBOUND) =>
  create(PeerConnectedSchema, { ip: addr, port: 24100, direction, connId, connectedAtMs: 1_000n });
/** An offence of a kind the registry grades as `severity` (or of the kind given). */
const offence = (addr: string, severity: Severity, kind?: OffenceKind) =>
  create(OffenceSchema, {
    ip: addr,
    kind: kind ?? (severity === Severity.FATAL ? OffenceKind.BAD_SIGNATURE : severity === Severity.MID ? OffenceKind.BAD_FRAME : OffenceKind.PING_TIMEOUT),
  });

test("backoff doubles with jitter and is capped; bans double and are capped; scores decay towards zero", () => {
  assert.deepEqual([1, 2, 3, 4, 10].map((f) => backoffDelayMs(f, 1_000, 60_000, () => 0)), [500, 1_000, 2_000, 4_000, 30_000]);
  assert.equal(backoffDelayMs(10, 1_000, 60_000, () => 0.999999), 60_000);
  const p = { lowPenalty: 10, midPenalty: 60, banThreshold: -100, halfLifeMs: 600_000, banBaseMs: 3_600_000, banMaxMs: 4 * 3_600_000 };
  assert.deepEqual([0, 1, 2, 3].map((n) => banDurationMs(n, p)), [3_600_000, 7_200_000, 4 * 3_600_000, 4 * 3_600_000]);
  assert.equal(decayedScore(-100, 0, 600_000, 600_000), -50);
  assert.equal(decayedScore(-100, 0, 60 * 600_000, 600_000), 0);
});

test("offences: fatal bans at once, mid ones add up to a ban, scores decay, allow-listed peers are never banned automatically", async () => {
  const { book, policyChanges } = await makeBook({ allowList: [ip("10.0.0.9")] });
  assert.equal(book.onOffence(offence("10.0.0.1", Severity.FATAL, OffenceKind.WRONG_GENESIS), 2_000), true);
  assert.equal(book.get(ip("10.0.0.1"))!.state, PeerState.BANNED);
  assert.equal(book.get(ip("10.0.0.1"))!.banReason, "wrong_genesis");
  assert.equal(policyChanges(), 1);
  // One mid offence is tolerated; a second soon after is not.
  // The registry grades by kind: a "fatal" ping timeout from a confused reporter is still low.
  assert.equal(book.onOffence(offence("10.0.0.5", Severity.FATAL, OffenceKind.PING_TIMEOUT), 2_000), false);
  assert.equal(book.onOffence(offence("10.0.0.2", Severity.MID), 2_000), false);
  assert.equal(book.onOffence(offence("10.0.0.2", Severity.MID), 3_000), true);
  // Spread over hours, the same offences fade and never ban.
  assert.equal(book.onOffence(offence("10.0.0.3", Severity.MID), 2_000), false);
  assert.equal(book.onOffence(offence("10.0.0.3", Severity.MID), 2_000 + 3 * 3_600_000), false);
  // Low offences: ten in a row ban.
  const lows = Array.from({ length: 10 }, () => book.onOffence(offence("10.0.0.4", Severity.LOW, OffenceKind.PING_TIMEOUT), 5_000));
  assert.deepEqual(lows, [...Array(9).fill(false), true]);
  for (let i = 0; i < 5; i++) assert.equal(book.onOffence(offence("10.0.0.9", Severity.FATAL), 5_000), false);
  assert.equal(book.get(ip("10.0.0.9"))!.state, PeerState.DISCONNECTED);
  // Bans expire by themselves at the tick after their end; the second one lasts twice as long.
  const until = Number(book.get(ip("10.0.0.2"))!.banUntilMs);
  book.tick(until + 1);
  assert.equal(book.get(ip("10.0.0.2"))!.state, PeerState.DISCONNECTED);
  assert.equal(book.get(ip("10.0.0.2"))!.score, 0);
  book.onOffence(offence("10.0.0.2", Severity.FATAL), until + 2);
  assert.equal(Number(book.get(ip("10.0.0.2"))!.banUntilMs) - (until + 2), 2 * 3_600_000);
});

test("dial plan: persistent peers always, learned ones up to the target, never a connected, banned or pending one; the lower IP waits", async () => {
  const { book } = await makeBook({ targetOutbound: 2, bootstrapPeers: [{ ip: ip("10.0.0.1"), port: 1 }, { ip: ip("10.0.0.99"), port: 1 }] });
  for (const a of ["10.0.0.2", "10.0.0.3", "10.0.0.4"]) assert.equal(book.addCandidate(ip(a), 24100, false, 1_000), "accepted");
  // 10.0.0.99 is higher than us (10.0.0.50): it is given PASSIVE_WAIT to dial us first.
  const orders = book.dueDials(1_000);
  assert.deepEqual(orders.map((o) => `${o.ip}/${o.why}`), ["10.0.0.1/persistent", "10.0.0.2/fill"]);
  for (const o of orders) book.markDialSent(o.ip, 1_000);
  // Pending dials count towards the target: nothing more until they resolve.
  assert.deepEqual(book.dueDials(1_001), []);
  book.onConnected(connected("10.0.0.1", 1), 1_100);
  book.onConnected(connected("10.0.0.2", 2), 1_100);
  assert.deepEqual(book.dueDials(1_200), []);
  // The passive wait is over for the higher bootstrap peer: dialled although the target is met (persistent).
  assert.deepEqual(book.dueDials(31_001).map((o) => o.ip), ["10.0.0.99"]);
  // A banned candidate is skipped.
  book.onDisconnected(create(PeerDisconnectedSchema, { ip: "10.0.0.2", connId: 2, reason: DisconnectReason.PING_TIMEOUT, livedMs: 10n }), 40_000);
  book.onOffence(offence("10.0.0.3", Severity.FATAL), 40_000);
  // 10.0.0.99 dialled us meanwhile (inbound: not an outbound slot); one slot is
  // free, and the candidate that never failed goes before the one that did.
  book.onConnected(connected("10.0.0.99", 9, Direction.INBOUND), 41_000);
  assert.deepEqual(book.dueDials(60_000).map((o) => `${o.ip}/${o.why}`), ["10.0.0.4/fill"]);
});

test("dial failures back off and learned peers are forgotten after too many; a stable connection resets the count", async () => {
  const { book, metrics } = await makeBook({ backoffMinMs: 1_000, forgetAfterFailures: 3, stableAfterMs: 5_000 });
  void metrics;
  book.addCandidate(ip("10.0.0.7"), 24100, false, 1_000);
  book.onDialFailed({ $typeName: "timenet.registry.v1.DialFailed", ip: "10.0.0.7", port: 24100, reason: 0, socketError: "econnrefused", detail: "" }, 2_000);
  assert.equal(book.get(ip("10.0.0.7"))!.consecutiveDialFailures, 1);
  assert.equal(Number(book.get(ip("10.0.0.7"))!.nextDialMs), 2_000 + 750);
  book.onDialFailed({ $typeName: "timenet.registry.v1.DialFailed", ip: "10.0.0.7", port: 24100, reason: 0, socketError: "econnrefused", detail: "" }, 3_000);
  assert.equal(Number(book.get(ip("10.0.0.7"))!.nextDialMs), 3_000 + 1_500);
  book.onDialFailed({ $typeName: "timenet.registry.v1.DialFailed", ip: "10.0.0.7", port: 24100, reason: 0, socketError: "bogus label!", detail: "" }, 4_000);
  assert.equal(book.get(ip("10.0.0.7")), undefined, "forgotten after three failures");

  book.addCandidate(ip("10.0.0.8"), 24100, false, 1_000);
  book.onDialFailed({ $typeName: "timenet.registry.v1.DialFailed", ip: "10.0.0.8", port: 24100, reason: 0, socketError: "etimedout", detail: "" }, 2_000);
  book.onConnected(connected("10.0.0.8", 5), 3_000);
  book.tick(4_000);
  assert.equal(book.get(ip("10.0.0.8"))!.consecutiveDialFailures, 1, "not reset at connect");
  book.tick(8_001);
  assert.equal(book.get(ip("10.0.0.8"))!.consecutiveDialFailures, 0, "reset once stable");
});

test("the book is bounded: the worst learned entry is evicted, configured and connected ones never", async () => {
  const { book } = await makeBook({ maxBookSize: 10, bootstrapPeers: [{ ip: ip("10.0.1.1"), port: 1 }] });
  book.onConnected(connected("10.0.1.2", 1), 1_000);
  for (let i = 10; i < 30; i++) book.addCandidate(ip(`10.0.2.${i}`), 24100, false, 1_000 + i);
  assert.equal(book.counts().size, 10);
  assert.ok(book.get(ip("10.0.1.1")) && book.get(ip("10.0.1.2")));
  // A public peer's answer may not plant private addresses.
  assert.equal(book.addCandidate(ip("192.168.1.1"), 24100, true, 2_000), "private");
  assert.equal(book.addCandidate(ip("10.0.0.50"), 24100, false, 2_000), "self");
  assert.equal(book.addCandidate(ip("10.0.1.1"), 24100, false, 2_000), "known");
});

test("reconciliation: missed events are corrected, events that raced the snapshot win", async () => {
  const { book } = await makeBook();
  const snap = (addr: string, connId: number) => create(ConnectionSchema, { ip: addr, port: 24100, direction: Direction.INBOUND, connId, connectedSinceMs: 500n });
  book.onConnected(connected("10.0.3.1", 1), 1_000); // before the request, absent from the snapshot: stale
  book.onConnected(connected("10.0.3.2", 2), 3_000); // after the request: the event wins
  book.onConnected(connected("10.0.3.3", 3), 1_000);
  book.onDisconnected(create(PeerDisconnectedSchema, { ip: "10.0.3.3", connId: 3, reason: DisconnectReason.PEER_CLOSED }), 2_500); // closed after the snapshot was taken
  const corrected = book.reconcile([snap("10.0.3.3", 3), snap("10.0.3.4", 4)], 2_000, 3_500);
  assert.equal(corrected, 2);
  assert.equal(book.get(ip("10.0.3.1"))!.state, PeerState.DISCONNECTED);
  assert.equal(book.get(ip("10.0.3.2"))!.state, PeerState.CONNECTED);
  assert.equal(book.get(ip("10.0.3.3"))!.state, PeerState.DISCONNECTED, "a stale snapshot does not revive a closed connection");
  assert.equal(book.get(ip("10.0.3.4"))!.state, PeerState.CONNECTED, "a connection the book missed");
  assert.equal(book.counts().connected, 2);
});

test("configuration: defaults follow the port plan; a bad value stops the service with one line", () => {
  const c = parseRegistryEnv({});
  assert.equal(c.GRPC_PORT, 50052);
  assert.equal(c.METRICS_PORT, 9102);
  assert.equal(c.TARGET_OUTBOUND, 8);
  assert.equal(c.MAX_INBOUND, 64);
  assert.equal(c.MAX_PER_SUBNET, 4);
  assert.equal(c.BAN_THRESHOLD, -100);
  const main = fileURLToPath(new URL("../src/main.js", import.meta.url));
  const r = spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH, TARGET_OUTBOUND: "lots" }, encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr.trim(), /^invalid configuration: TARGET_OUTBOUND="lots": expected an integer/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

test("the README's configuration table lists every variable the registry reads", () => {
  const readme = readFileSync(fileURLToPath(new URL("../../../../README.md", import.meta.url)), "utf8");
  for (const name of Object.keys(registryEnvSchema)) assert.match(readme, new RegExp("\\| `" + name + "` \\|"), name);
});
