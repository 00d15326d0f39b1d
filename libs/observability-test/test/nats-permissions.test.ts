// The node's NATS users (deploy/nats/users.conf, generated from
// libs/proto/src/nats-permissions.ts) on a real nats-server: the committed
// file is the generator's output; each service's user can do its work; the
// server refuses what a user must not touch.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AckPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { fromBinary } from "@bufbuild/protobuf";
import { Bus, StateBucket, type BusOptions } from "@timenet/bus";
import {
  AdmissionPolicySchema,
  Buckets,
  ChainTipSchema,
  DialRequestSchema,
  GatewayRunSchema,
  NATS_PASSWORD_ENV,
  NATS_USERS,
  PeerMessageSchema,
  PeerRequestSchema,
  renderNatsAuthorization,
  SendToPeerSchema,
  StateKeys,
  Streams,
  Subjects,
  type NatsUser,
} from "@timenet/proto";
import { tempDir, waitFor } from "@timenet/testkit";
import { startPermissionedNats, type PermissionedNats } from "../src/permissioned-nats.js";
import { DEPLOY, ROOT } from "./network.js";

let nats: PermissionedNats;
const buses: Bus[] = [];

interface Refusal {
  operation: string;
  subject: string;
}

/** A Bus as `user`, recording the server's refusals. */
async function connectAs(user: NatsUser, extra: Partial<BusOptions> = {}): Promise<{ bus: Bus; refusals: Refusal[] }> {
  const refusals: Refusal[] = [];
  const bus = await Bus.connect({
    servers: nats.url,
    name: `perm-${user}`,
    ...nats.creds(user),
    onPermissionError: (operation, subject) => refusals.push({ operation, subject }),
    ...extra,
  });
  buses.push(bus);
  return { bus, refusals };
}

async function refused(r: Refusal[], operation: string, subject: string): Promise<void> {
  await waitFor(() => r.some((x) => x.operation === operation && x.subject === subject), { message: `${operation} ${subject} refused (got ${JSON.stringify(r)}; server: ${nats.violations().slice(-3).join(" | ")})`, timeoutMs: 5_000 });
}

/** Collects the messages of a subscription. */
function collect<T>(bus: Bus, subject: string, decode: (b: Uint8Array) => T): T[] {
  const got: T[] = [];
  bus.connection.subscribe(subject, {
    callback: (_e, m) => {
      got.push(decode(m.data));
    },
  });
  return got;
}

before(async () => {
  nats = await startPermissionedNats({ deployDir: DEPLOY, host: "127.0.4.20" });
});
after(async () => {
  await Promise.all(buses.map((b) => b.close()));
  await nats.stop();
});

describe("deploy/nats/users.conf", () => {
  test("is the generator's output for the permission table (and deploy/README.md's table too)", () => {
    assert.equal(readFileSync(join(DEPLOY, "nats", "users.conf"), "utf8"), renderNatsAuthorization());
    const r = spawnSync(process.execPath, [join(ROOT, "libs", "proto", "bin", "nats-config.mjs"), "--check"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
  });

  test("has one user per service and the operator, each with its own password variable", () => {
    const text = readFileSync(join(DEPLOY, "nats", "users.conf"), "utf8");
    for (const u of NATS_USERS) assert.match(text, new RegExp(`user: "${u}"`));
    assert.equal(new Set([...text.matchAll(/password: \$(\w+)/g)].map((m) => m[1])).size, NATS_USERS.length);
  });
});

describe("each service's NATS user does its work", () => {
  test("gateway and registry: their KV buckets, dial orders, peer requests answered on the requester's own inbox", async () => {
    const gw = await connectAs("p2p-gateway");
    const reg = await connectAs("peer-registry");
    const sync = await connectAs("chain-sync");
    // The gateway owns P2P_CONNECTIONS; the registry and chain-sync follow it.
    const conns = await StateBucket.open(gw.bus, Buckets.connections);
    await conns.put(StateKeys.gatewayRun, GatewayRunSchema, { nodeId: "r1" });
    const seen = await StateBucket.follow(reg.bus, Buckets.connections);
    assert.equal((await seen.get(StateKeys.gatewayRun, (v) => fromBinary(GatewayRunSchema, v)))?.nodeId, "r1");
    const watched: string[] = [];
    const w = await (await StateBucket.follow(sync.bus, Buckets.connections)).watch({ decode: (_k, v) => v }, (c) => watched.push(c.key));
    await w.initialized;
    assert.deepEqual(watched, [StateKeys.gatewayRun]);
    w.stop();
    await conns.delete(StateKeys.gatewayRun);

    // The registry owns REGISTRY_ADMISSION; the gateway follows it (before it exists, as at a first start).
    const policies: bigint[] = [];
    const pw = await (await StateBucket.follow(gw.bus, Buckets.admission, { pollMs: 100 })).watch(
      { key: StateKeys.admissionPolicy, decode: (_k, v) => fromBinary(AdmissionPolicySchema, v) },
      (c) => c.op === "put" && policies.push(c.value.version),
    );
    await pw.initialized;
    const adm = await StateBucket.open(reg.bus, Buckets.admission);
    await adm.put(StateKeys.admissionPolicy, AdmissionPolicySchema, { epoch: "e", version: 7n });
    await waitFor(() => policies.includes(7n), { message: "the gateway sees the registry's policy" });
    pw.stop();

    const dials = collect(gw.bus, Subjects.registryDial, (b) => fromBinary(DialRequestSchema, b));
    await gw.bus.flush();
    assert.equal(reg.bus.publish(Subjects.registryDial, DialRequestSchema, { ip: "10.0.0.1", port: 24100 }), true);
    await waitFor(() => dials.length === 1, { message: "dial order delivered" });

    // p2p.request from chain-sync and the registry: the gateway answers on their own inbox prefixes.
    gw.bus.subscribe(Subjects.peerRequest, PeerRequestSchema, (_m, ctx) => ctx.respond(PeerMessageSchema, { peerIp: "10.0.0.9" }));
    await gw.bus.flush();
    for (const requester of [sync, reg]) {
      const answer = await requester.bus.request(Subjects.peerRequest, PeerRequestSchema, { peerIp: "10.0.0.9" }, PeerMessageSchema);
      assert.equal(answer.peerIp, "10.0.0.9");
    }
    for (const x of [gw, reg, sync]) assert.deepEqual(x.refusals, []);
  });

  test("block-store announces the tip; producer, chain-sync, gateway and operator hear it; the store answers peers", async () => {
    const store = await connectAs("block-store");
    const listeners = await Promise.all((["block-producer", "chain-sync", "p2p-gateway", "operator"] as const).map((u) => connectAs(u)));
    const tips = listeners.map((l) => collect(l.bus, Subjects.chainTip, (b) => fromBinary(ChainTipSchema, b)));
    await Promise.all(listeners.map((l) => l.bus.flush()));
    store.bus.publish(Subjects.chainTip, ChainTipSchema, { height: 42 });
    await waitFor(() => tips.every((t) => t.length === 1), { message: "every listener has the tip" });

    const gw = listeners[2]!;
    const sends = collect(gw.bus, Subjects.peerOutSend, (b) => fromBinary(SendToPeerSchema, b));
    const asks = collect(store.bus, Subjects.peerIn("get_blocks"), (b) => fromBinary(PeerMessageSchema, b));
    const txs = collect(listeners[0]!.bus, Subjects.peerIn("tx"), (b) => fromBinary(PeerMessageSchema, b));
    await Promise.all([gw.bus.flush(), store.bus.flush(), listeners[0]!.bus.flush()]);
    gw.bus.publish(Subjects.peerIn("get_blocks"), PeerMessageSchema, { peerIp: "10.0.0.2" });
    gw.bus.publish(Subjects.peerIn("tx"), PeerMessageSchema, { peerIp: "10.0.0.3" });
    await waitFor(() => asks.length === 1 && txs.length === 1, { message: "the gateway's peer messages delivered" });
    store.bus.publish(Subjects.peerOutSend, SendToPeerSchema, { peerIp: "10.0.0.2" });
    await waitFor(() => sends.length === 1, { message: "the store's answer delivered" });
    for (const x of [store, ...listeners]) assert.deepEqual(x.refusals, []);
  });

  test("chain-sync: its work queue (stream, durable consumer, publish, pull, ack) and its planner lease bucket", async () => {
    const sync = await connectAs("chain-sync");
    const nc = sync.bus.connection;
    const jsm = await jetstreamManager(nc);
    const s = Streams.syncBatches;
    const config = { name: s.name, subjects: [s.subject], retention: RetentionPolicy.Workqueue, storage: StorageType.File, max_msgs: 1_000, discard: DiscardPolicy.New };
    await jsm.streams.add(config);
    await jsm.streams.update(s.name, config);
    const consumer = { durable_name: s.consumer, ack_policy: AckPolicy.Explicit, filter_subject: s.subject };
    await jsm.consumers.add(s.name, consumer);
    await jsm.consumers.update(s.name, s.consumer, consumer);
    const js = jetstream(nc);
    await js.publish(s.subject, new Uint8Array([1]), { msgID: "b1" });
    const c = await js.consumers.get(s.name, s.consumer);
    const m = await c.next({ expires: 2_000 });
    assert.deepEqual([...(m?.data ?? [])], [1]);
    await m!.ackAck();
    assert.equal((await jsm.consumers.info(s.name, s.consumer)).num_ack_pending, 0);

    const lease = await new Kvm(jetstream(nc)).create(Buckets.syncLeader, { ttl: 3_000, history: 1 });
    const rev = await lease.create("planner", new TextEncoder().encode("w1"));
    await lease.update("planner", new TextEncoder().encode("w1"), rev);
    assert.equal((await lease.get("planner"))?.string(), "w1");
    assert.deepEqual(sync.refusals, []);
  });
});

describe("the server refuses what a user must not touch", () => {
  test("nobody but the registry writes the admission policy: chain-sync and the gateway are refused", async () => {
    const reg = await connectAs("peer-registry");
    await (await StateBucket.open(reg.bus, Buckets.admission)).put(StateKeys.admissionPolicy, AdmissionPolicySchema, { epoch: "good", version: 1n });
    for (const user of ["chain-sync", "p2p-gateway", "block-producer"] as const) {
      const x = await connectAs(user);
      const subject = `$KV.${Buckets.admission}.${StateKeys.admissionPolicy}`;
      x.bus.publishEncoded(subject, new Uint8Array([0x38, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])); // version 2^63-1
      await refused(x.refusals, "publish", subject);
    }
    // Nor can they (re)create or reconfigure the bucket.
    const sync = await connectAs("chain-sync");
    await assert.rejects(StateBucket.open(sync.bus, Buckets.admission), /cannot open the KV bucket/);
    await refused(sync.refusals, "publish", `$JS.API.STREAM.INFO.KV_${Buckets.admission}`);
    // The stored policy is still the registry's.
    const gw = await connectAs("p2p-gateway");
    const p = await (await StateBucket.follow(gw.bus, Buckets.admission)).get(StateKeys.admissionPolicy, (v) => fromBinary(AdmissionPolicySchema, v));
    assert.equal(p?.epoch, "good");
    // A follower's handle refuses writes before they reach the server.
    await assert.rejects((await StateBucket.follow(gw.bus, Buckets.admission)).put(StateKeys.admissionPolicy, AdmissionPolicySchema, {}), /followed, not owned/);
  });

  test("the registry cannot write the gateway's connection set", async () => {
    const reg = await connectAs("peer-registry");
    const subject = `$KV.${Buckets.connections}.${StateKeys.connection("10.0.0.1")}`;
    reg.bus.publishEncoded(subject, new Uint8Array([1]));
    await refused(reg.refusals, "publish", subject);
  });

  test("only block-store publishes chain.tip; the producer cannot send to peers", async () => {
    const op = await connectAs("operator");
    const tips = collect(op.bus, Subjects.chainTip, (b) => fromBinary(ChainTipSchema, b));
    await op.bus.flush();
    for (const user of ["p2p-gateway", "peer-registry", "chain-sync", "block-producer", "operator"] as const) {
      const x = await connectAs(user);
      x.bus.publish(Subjects.chainTip, ChainTipSchema, { height: 999 });
      await refused(x.refusals, "publish", Subjects.chainTip);
    }
    const producer = await connectAs("block-producer");
    for (const subject of [Subjects.peerOutSend, Subjects.peerOutBroadcast, Subjects.peerRequest]) {
      producer.bus.publishEncoded(subject, new Uint8Array());
      await refused(producer.refusals, "publish", subject);
    }
    // None of the refused tips reached a subscriber; the store's does.
    const store = await connectAs("block-store");
    store.bus.publish(Subjects.chainTip, ChainTipSchema, { height: 1 });
    await waitFor(() => tips.length > 0, { message: "the store's tip delivered" });
    await op.bus.flush();
    assert.deepEqual(
      tips.map((t) => t.height),
      [1],
    );
  });

  test("no user reads another's replies or subscribes beyond its grant", async () => {
    const sync = await connectAs("chain-sync");
    sync.bus.connection.subscribe("_INBOX.p2p-gateway.>");
    await refused(sync.refusals, "subscription", "_INBOX.p2p-gateway.>");
    const producer = await connectAs("block-producer");
    producer.bus.connection.subscribe(Subjects.peerIn("get_blocks"));
    await refused(producer.refusals, "subscription", Subjects.peerIn("get_blocks"));
    assert.ok(nats.violations().length >= 2, "the server logs its refusals");
  });
});

describe("placeholder or missing NATS passwords stop the stack at start", () => {
  let storeDir = "";
  let runs = 0;
  before(async () => {
    const d = await tempDir("nats-refusal-");
    storeDir = d.path;
    after(() => d.remove());
  });
  const runService = (env: Record<string, string>) =>
    spawnSync(process.execPath, [join(ROOT, "apps", "block-store", "dist", "src", "main.js")], {
      encoding: "utf8",
      timeout: 20_000,
      env: { PATH: process.env.PATH ?? "", NETWORK: "devnet", STORE_DB_PATH: join(storeDir, `db-${++runs}`), GRPC_PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "fatal", ...env },
    });
  const oneLine = (stderr: string) => stderr.trim().split("\n");

  for (const [pass, why] of [
    ["CHANGE-ME-host-1-store", /NATS_PASS is a CHANGE-ME placeholder/],
    ["", /NATS_PASS is empty/],
    ["short-secret", /NATS_PASS is shorter than 16 characters/],
    ["12e45678901234567890", /NATS_PASS must start with a letter/],
  ] as const) {
    test(`a service exits 2 with one line naming NATS_PASS: ${JSON.stringify(pass)}`, () => {
      const r = runService({ NATS_URL: "nats://nats:4222", NATS_USER: "block-store", NATS_PASS: pass });
      assert.equal(r.status, 2, r.stderr);
      const lines = oneLine(r.stderr);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, why);
      if (pass) assert.ok(!lines[0]!.includes(pass), "the password is never shown");
    });
  }

  test("without NATS_USER a service accepts only a NATS on loopback", () => {
    const r = runService({ NATS_URL: "nats://nats:4222" });
    assert.equal(r.status, 2, r.stderr);
    assert.match(oneLine(r.stderr)[0]!, /NATS_USER is required: NATS_URL=nats:\/\/nats:4222 is beyond loopback/);
  });

  test("the nats container's entrypoint refuses the host files' placeholders, one line and exit 2", () => {
    const hostEnv = Object.fromEntries(
      readFileSync(join(DEPLOY, "hosts", "host-1.env"), "utf8")
        .split("\n")
        .filter((l) => l.startsWith("NATS_PASS_"))
        .map((l) => l.split("=") as [string, string]),
    );
    assert.equal(Object.keys(hostEnv).length, NATS_USERS.length, "one placeholder per NATS user");
    const r = spawnSync("sh", [join(DEPLOY, "nats", "entrypoint.sh"), "--version"], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...hostEnv } });
    assert.equal(r.status, 2);
    assert.match(r.stderr.trim(), /^invalid configuration: NATS_PASS_GATEWAY is a CHANGE-ME placeholder/);
    assert.equal(oneLine(r.stderr).length, 1);
    // With real passwords it hands over to nats-server.
    const good = Object.fromEntries(NATS_USERS.map((u, i) => [NATS_PASSWORD_ENV[u], `p${"a".repeat(20)}${i}`]));
    const ok = spawnSync("sh", [join(DEPLOY, "nats", "entrypoint.sh"), "--version"], { encoding: "utf8", env: { PATH: `${process.env.PATH ?? ""}:/usr/sbin`, ...good } });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout + ok.stderr, /nats-server: v2/);
  });
});

