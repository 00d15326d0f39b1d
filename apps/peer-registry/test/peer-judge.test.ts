// The judge: offences graded by kind, decaying scores, bans, the admission policy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { AdmissionPolicySchema, DialFailedSchema, Direction, DisconnectReason, OffenceKind, PeerState } from "@timenet/proto";
import { conn, ip, makeBook, offence, peerOf, run } from "./book-fixture.js";
import { banDurationMs, decayedScore } from "../src/scoring.js";

test("bans double and are capped; scores decay towards zero", () => {
  const p = { lowPenalty: 10, midPenalty: 60, banThreshold: -100, halfLifeMs: 600_000, banBaseMs: 3_600_000, banMaxMs: 4 * 3_600_000 };
  assert.deepEqual([0, 1, 2, 3].map((n) => banDurationMs(n, p)), [3_600_000, 7_200_000, 4 * 3_600_000, 4 * 3_600_000]);
  assert.equal(decayedScore(-100, 0, 600_000, 600_000), -50);
  assert.equal(decayedScore(-100, 0, 60 * 600_000, 600_000), 0);
});

test("offences: fatal bans at once, mid ones add up to a ban, scores decay, allow-listed peers are never banned automatically", async () => {
  const b = await makeBook({ allowList: [ip("10.0.0.9")] });
  assert.equal(b.judge.onOffence(offence("10.0.0.1", OffenceKind.WRONG_GENESIS), 2_000), true);
  assert.equal(peerOf(b, "10.0.0.1").state, PeerState.BANNED);
  assert.equal(peerOf(b, "10.0.0.1").banReason, "wrong_genesis");
  assert.equal(b.policyChanges(), 1);
  assert.equal(await b.metric("timenet_registry_offences_total", { kind: "wrong_genesis", severity: "fatal" }), 1);
  // The registry grades by kind only: a ping timeout is low whoever reports it.
  assert.equal(b.judge.onOffence(offence("10.0.0.5", OffenceKind.PING_TIMEOUT), 2_000), false);
  // One mid offence is tolerated; a second soon after is not.
  assert.equal(b.judge.onOffence(offence("10.0.0.2", OffenceKind.BAD_FRAME), 2_000), false);
  assert.equal(b.judge.onOffence(offence("10.0.0.2", OffenceKind.BAD_FRAME), 3_000), true);
  // Spread over hours, the same offences fade and never ban.
  assert.equal(b.judge.onOffence(offence("10.0.0.3", OffenceKind.BAD_FRAME), 2_000), false);
  assert.equal(b.judge.onOffence(offence("10.0.0.3", OffenceKind.BAD_FRAME), 2_000 + 3 * 3_600_000), false);
  // Low offences: ten in a row ban.
  const lows = Array.from({ length: 10 }, () => b.judge.onOffence(offence("10.0.0.4", OffenceKind.PING_TIMEOUT), 5_000));
  assert.deepEqual(lows, [...Array(9).fill(false), true]);
  // A kind this build does not know is graded low, never more.
  assert.equal(b.judge.onOffence(offence("10.0.0.6", 999 as OffenceKind), 5_000), false);
  assert.equal(await b.metric("timenet_registry_offences_total", { kind: "unknown", severity: "low" }), 1);
  for (let i = 0; i < 5; i++) assert.equal(b.judge.onOffence(offence("10.0.0.9", OffenceKind.BAD_SIGNATURE), 5_000), false);
  assert.equal(peerOf(b, "10.0.0.9").state, PeerState.DISCONNECTED);
  // Bans expire by themselves at the tick after their end; the second one lasts twice as long.
  const until = Number(peerOf(b, "10.0.0.2").banUntilMs);
  b.judge.tick(until + 1);
  assert.equal(peerOf(b, "10.0.0.2").state, PeerState.DISCONNECTED);
  assert.equal(peerOf(b, "10.0.0.2").score, 0);
  b.judge.onOffence(offence("10.0.0.2", OffenceKind.BAD_SIGNATURE), until + 2);
  assert.equal(Number(peerOf(b, "10.0.0.2").banUntilMs) - (until + 2), 2 * 3_600_000);
});

test("operators ban (allow-listed peers too) and unban; the allow-list lifts automatic bans, never an operator's", async () => {
  const first = await makeBook();
  first.judge.ban(ip("10.0.7.1"), 0, "flooding", 1_000);
  first.judge.onOffence(offence("10.0.7.2", OffenceKind.WRONG_NETWORK), 1_000);
  assert.equal(peerOf(first, "10.0.7.1").banReason, "operator: flooding");
  assert.equal(Number(peerOf(first, "10.0.7.1").banUntilMs), 1_000 + 3_600_000, "the default duration");
  // Both are allow-listed in the next run's configuration.
  const next = await makeBook({ allowList: [ip("10.0.7.1"), ip("10.0.7.2")] });
  next.judge.ban(ip("10.0.7.1"), 60_000, "", 1_000);
  next.judge.onOffence(offence("10.0.7.2", OffenceKind.WRONG_NETWORK), 1_000);
  assert.equal(peerOf(next, "10.0.7.1").state, PeerState.BANNED, "an operator's ban applies to allow-listed peers too");
  assert.equal(peerOf(next, "10.0.7.2").state, PeerState.DISCONNECTED);
  assert.equal(next.judge.unban(ip("10.0.7.1"), 2_000)!.state, PeerState.DISCONNECTED);
  assert.equal(next.judge.unban(ip("10.9.9.9"), 2_000), undefined);
});

test("the admission policy lists live bans and the allow-list with the limits; its version only grows within a run's epoch", async () => {
  const b = await makeBook({ allowList: [ip("10.0.8.9")], maxInbound: 7, maxPerSubnet: 2 });
  b.judge.onOffence(offence("10.0.8.1", OffenceKind.BAD_SIGNATURE), 1_000);
  b.judge.ban(ip("10.0.8.2"), 1_000, "short", 1_000);
  const p = b.judge.policy(1_500);
  assert.deepEqual(p.bans.map((x) => x.ip).sort(), ["10.0.8.1", "10.0.8.2"]);
  assert.deepEqual(p.allowList, ["10.0.8.9"]);
  assert.equal(p.maxInbound, 7);
  assert.equal(p.maxPerSubnet, 2);
  assert.deepEqual(b.judge.policy(2_001).bans.map((x) => x.ip), ["10.0.8.1"], "a lapsed ban is not sent");
  // A restarted registry starts a new epoch (from version 1): gateways take it whatever the old version.
  const later = await makeBook();
  assert.notEqual(later.judge.policy(3_000).epoch, p.epoch);
  assert.equal(later.judge.policy(3_000).epoch, later.judge.epoch);
  assert.equal(later.judge.policy(3_000).version, 1n);
  const v = later.judge.policy(3_000).version;
  later.judge.ban(ip("10.0.8.3"), 0, "", 3_000);
  assert.ok(later.judge.policy(3_000).version > v, "every change raises it");
});

test("a judgement survives the peer's reconnects, a full book and its dial failures", async () => {
  const b = await makeBook({ maxBookSize: 10, forgetAfterFailures: 2, backoffMinMs: 1_000 });
  b.connections.apply(run(1), 1_000);
  b.connections.markInitialized(1_000);
  const m = "10.0.11.1";
  b.connections.apply(conn(m, 1, { direction: Direction.INBOUND }), 1_000);
  b.judge.onOffence(offence(m, OffenceKind.BAD_FRAME), 1_000);
  b.connections.apply(conn(m, 1, { ended: { reason: DisconnectReason.BAD_FRAME, livedMs: 10 } }), 1_100);
  // It reconnects at once: the same score, and a second mid offence bans.
  b.connections.apply(conn(m, 2, { direction: Direction.INBOUND, at: 1_200 }), 1_200);
  assert.ok(peerOf(b, m).score <= -59, `score ${peerOf(b, m).score} kept`);
  assert.equal(b.judge.onOffence(offence(m, OffenceKind.BAD_FRAME), 1_300), true);
  b.connections.apply(conn(m, 2, { at: 1_200, ended: { reason: DisconnectReason.BANNED, livedMs: 100 } }), 1_300);
  b.judge.tick(Number(peerOf(b, m).banUntilMs) + 1); // the ban lapses: score 0, one ban on record
  const after = Number(peerOf(b, m).banUntilMs) + 10_000;
  // It refuses our redials: we stop dialling it, but its ban count stays.
  for (let k = 0; k < 2; k++) b.planner.onDialFailed(create(DialFailedSchema, { ip: m, port: 24100, socketError: "econnrefused" }), after + k);
  assert.deepEqual([peerOf(b, m).banCount, peerOf(b, m).port], [1, 0]);
  assert.equal(await b.metric("timenet_registry_forgotten_total", { reason: "given_up_judged" }), 1);
  // A full book evicts claims and plain peers before it.
  b.connections.apply(conn("10.0.11.9", 9), after);
  for (let i = 0; i < 30; i++) b.addresses.ingest(ip("10.0.11.9"), [{ $typeName: "timenet.p2p.v1.PeerAddress", ip: `10.0.12.${i}`, port: 24100, lastSeenMs: 0n }], after + i);
  assert.equal(b.records.size, 10);
  assert.ok(b.records.has(ip(m)), "the judged IP is kept");
  // When it comes back, its next ban lasts twice as long.
  b.connections.apply(conn(m, 3, { direction: Direction.INBOUND, at: after + 100 }), after + 100);
  b.judge.onOffence(offence(m, OffenceKind.BAD_SIGNATURE), after + 200);
  assert.equal(Number(peerOf(b, m).banUntilMs) - (after + 200), 2 * 3_600_000);
});

test("at most maxBans bans are in force: a new one lifts the ban ending soonest, an offender's before an operator's; the book stays bounded", async () => {
  const b = await makeBook({ maxBans: 3, maxBookSize: 10 });
  b.judge.ban(ip("10.0.13.1"), 60_000, "watch", 1_000); // the operator's, ending soonest of all
  // Many addresses each commit a fatal offence, one after another: later ones end later.
  for (let i = 2; i <= 40; i++) assert.equal(b.judge.onOffence(offence(`10.0.13.${i}`, OffenceKind.WRONG_GENESIS), 1_000 + i), true);
  const banned = () => [...b.records.all()].filter((p) => p.state === PeerState.BANNED).map((p) => p.ip).sort();
  assert.deepEqual(banned(), ["10.0.13.1", "10.0.13.39", "10.0.13.40"], "the operator's ban and the two latest");
  assert.deepEqual(b.judge.policy(2_000).bans.map((x) => x.ip).sort(), banned());
  assert.equal(await b.metric("timenet_registry_unbans_total", { reason: "evicted" }), 37);
  assert.equal(await b.metric("timenet_registry_bans_total", { reason: "wrong_genesis" }), 39);
  // An evicted offender did not earn a clean slate: its score stands, and its next offence bans it for twice as long.
  const early = peerOf(b, "10.0.13.38"); // the last one lifted (earlier ones may have left the full book since)
  assert.ok(early.score <= -100, `score ${early.score} kept`);
  assert.equal(early.banCount, 1);
  assert.equal(b.judge.onOffence(offence("10.0.13.38", OffenceKind.BAD_FRAME), 3_000), true, "one mid offence bans it again");
  assert.equal(Number(early.banUntilMs) - 3_000, 2 * 3_600_000);
  // The book holds at most maxBookSize entries that nothing pins, plus the bans: never the 40 addresses.
  assert.ok(b.records.size <= 10 + 3, `book of ${b.records.size}`);
  // Only operator bans left: the one ending soonest goes.
  for (const at of [4_000, 4_001, 4_002]) b.judge.ban(ip(`10.0.14.${at - 3_999}`), 600_000, "", at);
  assert.deepEqual(banned(), ["10.0.14.1", "10.0.14.2", "10.0.14.3"]);
  // Restarted with a lower MAX_BANS, the stored bans are brought down at the first tick, soonest-ending first.
  const lower = await b.reopen(5_000, { maxBans: 1 });
  assert.equal(lower.judge.policy(5_000).bans.length, 3, "as stored");
  lower.judge.tick(5_000);
  assert.deepEqual(lower.judge.policy(5_000).bans.map((x) => x.ip), ["10.0.14.3"]);
});

test("the admission policy stays one NATS value at MAX_BANS' largest, whatever the operators' reasons", async () => {
  const b = await makeBook({ maxBans: 4096 });
  const long = "é".repeat(300); // clipped to 256 in the book, 2 bytes each in UTF-8
  for (let i = 0; i < 4096; i++) b.judge.ban(ip(`2001:db8:ffff:ffff:ffff:ffff:${(i >> 8).toString(16)}:${(i & 255).toString(16)}`), 600_000, long, 1_000);
  const policy = b.judge.policy(2_000);
  assert.equal(policy.bans.length, 4096);
  const bytes = toBinary(AdmissionPolicySchema, policy).length;
  assert.ok(bytes < 1024 * 1024, `policy of ${bytes} bytes`);
});
