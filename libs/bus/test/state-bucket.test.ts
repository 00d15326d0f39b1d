// StateBucket against a real nats-server with JetStream.
import { execFile } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { GatewayRunSchema, type GatewayRun } from "@timenet/proto";
import { startNatsServer, tempDir, waitFor, type NatsServerHandle } from "@timenet/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { Bus, StateBucket, type StateBucketLimits, type StateChange } from "../src/index.js";

let nats: NatsServerHandle;
const buses: Bus[] = [];
const decodeErrors: string[] = [];
before(async () => {
  nats = await startNatsServer({ jetstream: true });
});
after(async () => {
  for (const b of buses) await b.close();
  await nats.stop();
});
async function bucket(name: string): Promise<StateBucket> {
  const bus = await Bus.connect({ servers: nats.url, name: "t", onDecodeError: (subject) => decodeErrors.push(subject) });
  buses.push(bus);
  return StateBucket.open(bus, name);
}
const decode = (_key: string, v: Uint8Array): GatewayRun => fromBinary(GatewayRunSchema, v);
const show = (c: StateChange<GatewayRun>) => (c.op === "put" ? `${c.key}=${c.value.nodeId}` : `${c.key} deleted`);

test("a watch gets the latest value of every key, then every change in order; initialized marks the boundary", async () => {
  const writer = await bucket("T1");
  await writer.put("a", GatewayRunSchema, { nodeId: "a1" });
  await writer.put("a", GatewayRunSchema, { nodeId: "a2" });
  await writer.put("b", GatewayRunSchema, { nodeId: "b1" });
  await writer.put("c", GatewayRunSchema, { nodeId: "c1" });
  await writer.delete("c");

  const reader = await bucket("T1");
  const seen: string[] = [];
  let atInit: string[] = [];
  const w = await reader.watch({ decode }, (c) => seen.push(show(c)));
  await w.initialized.then(() => (atInit = [...seen]));
  assert.deepEqual(atInit, ["a=a2", "b=b1", "c deleted"], "only the latest of each key, deletes included");
  await writer.put("b", GatewayRunSchema, { nodeId: "b2" });
  await writer.delete("a");
  await waitFor(() => seen.length === 5, { message: "updates delivered" });
  assert.deepEqual(seen.slice(3), ["b=b2", "a deleted"]);
  assert.deepEqual(await writer.keys(), ["b"]);
  assert.equal((await writer.get("b", (v) => decode("b", v)))?.nodeId, "b2");
  assert.equal(await writer.get("a", (v) => decode("a", v)), undefined, "deleted");
  w.stop();
});

test("an empty bucket (or filter) is initialized at once; a key filter sees only its keys", async () => {
  const b = await bucket("T2");
  const w = await b.watch({ key: "c.>", decode }, () => undefined);
  await w.initialized;
  const seen: string[] = [];
  const w2 = await b.watch({ key: "c.>", decode }, (c) => seen.push(show(c)));
  await b.put("run", GatewayRunSchema, { nodeId: "r" });
  await b.put("c.10.0.0.1", GatewayRunSchema, { nodeId: "x" });
  await waitFor(() => seen.length === 1, { message: "filtered update" });
  assert.deepEqual(seen, ["c.10.0.0.1=x"]);
  w.stop();
  w2.stop();
});

test("a value that does not decode is reported and skipped; the watch goes on", async () => {
  const b = await bucket("T3");
  const seen: string[] = [];
  const w = await b.watch({ decode: (k, v) => (k === "bad" ? (() => { throw new Error("undecodable"); })() : decode(k, v)) }, (c) => seen.push(show(c)));
  await b.put("bad", GatewayRunSchema, { nodeId: "?" });
  await b.put("good", GatewayRunSchema, { nodeId: "g" });
  await waitFor(() => seen.length === 1, { message: "good value delivered" });
  assert.deepEqual(seen, ["good=g"]);
  assert.deepEqual(decodeErrors, ["T3/bad"]);
  w.stop();
});

test("a NATS server without JetStream: opening a bucket fails with one clear error", async () => {
  const plain = await startNatsServer({ jetstream: false });
  const bus = await Bus.connect({ servers: plain.url, name: "t" });
  try {
    await assert.rejects(StateBucket.open(bus, "T4"), /cannot open the KV bucket T4 \(NATS must run with JetStream\)/);
  } finally {
    await bus.close();
    await plain.stop();
  }
});

test("a follower looks for a bucket not created yet often at first, then less and less often, and watches it from its first entry", async () => {
  const bus = await Bus.connect({ servers: nats.url, name: "follower" });
  buses.push(bus);
  // JetStream's API is a subject like any other: a subscriber sees every stream lookup the follower makes.
  const lookups: number[] = [];
  const spy = bus.connection.subscribe("$JS.API.STREAM.INFO.KV_T5", { callback: () => void lookups.push(performance.now()) });
  await bus.connection.flush();
  const follower = await StateBucket.follow(bus, "T5", { pollMs: 20, backoffAfterMs: 100, maxPollMs: 160 });
  const seen: string[] = [];
  const w = await follower.watch({ decode }, (c) => seen.push(show(c)));
  try {
    await w.initialized;
    await waitFor(() => lookups.length >= 12, { message: () => `12 lookups (saw ${lookups.length})` });
    const gaps = lookups.slice(1).map((t, i) => t - lookups[i]!);
    const shown = `gaps ${gaps.map(Math.round).join(", ")} ms`;
    // Every 20 ms for the first 100 ms (about five looks), then doubling to the cap: ..., 40, 80, 160, 160.
    assert.ok(gaps[0]! < 100, `the first looks come quickly: ${shown}`);
    assert.ok(gaps.at(-1)! >= 150 && gaps.at(-2)! >= 150, `the wait reached its cap: ${shown}`);
    assert.ok(gaps.at(-4)! >= 35 && gaps.at(-3)! >= 70, `the wait doubled on its way there: ${shown}`);
    spy.unsubscribe();

    const owner = await bucket("T5");
    await owner.put("a", GatewayRunSchema, { nodeId: "first" });
    await waitFor(() => seen.length === 1, { message: "the follower watches the bucket once it exists" });
    assert.deepEqual(seen, ["a=first"]);
  } finally {
    w.stop();
  }
});

test("a follower's wait for a missing bucket keeps no process alive once its bus is closed", async () => {
  // A process that follows a bucket nobody creates, closes its bus without stopping the watch,
  // and must then exit by itself (the wait's timer used to keep it running for ever).
  const index = new URL("../src/index.js", import.meta.url).href;
  const script = `
    const { Bus, StateBucket } = await import(${JSON.stringify(index)});
    const bus = await Bus.connect({ servers: process.env.NATS_URL, name: "leaver" });
    const b = await StateBucket.follow(bus, "T6", { pollMs: 20, backoffAfterMs: 60_000 });
    await b.watch({ decode: (_k, v) => v }, () => undefined);
    await bus.close();
  `;
  const started = performance.now();
  const child = execFile(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, NATS_URL: nats.url }, timeout: 10_000 });
  // Rejects if the child cannot be started at all.
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  assert.equal(signal, null, `the process had to be killed after ${Math.round(performance.now() - started)} ms`);
  assert.equal(code, 0);
});

test("followers that start while their owner creates the bucket and writes see every write, and each look-up ends at once", async () => {
  // The gateway starts this way beside its registry: it looks for the admission bucket while the registry creates it
  // and writes its first policy. Forty such pairs at once, each at its own moment; every follower must see the
  // first write (never lost between the read of what is there and the watch of what comes), then the second.
  const pairs = 40;
  const results = await Promise.all(
    Array.from({ length: pairs }, async (_, i) => {
      const name = `RACE${i}`;
      const followerBus = await Bus.connect({ servers: nats.url, name: `follower-${i}` });
      buses.push(followerBus);
      const follower = await StateBucket.follow(followerBus, name, { pollMs: 5 + (i % 7) });
      const seen: string[] = [];
      const w = await follower.watch({ key: "policy", decode }, (c) => seen.push(show(c)));
      await new Promise((r) => setTimeout(r, (i * 37) % 200));
      const owner = await bucket(name);
      await owner.put("policy", GatewayRunSchema, { nodeId: "first" });
      await waitFor(() => seen.length >= 1, { timeoutMs: 5_000, message: `follower ${i} saw the first write (saw ${seen.join(", ")})` });
      await owner.put("policy", GatewayRunSchema, { nodeId: "second" });
      await waitFor(() => seen.length >= 2, { timeoutMs: 5_000, message: `follower ${i} saw the second write` });
      const began = performance.now();
      const keys = await follower.keys();
      const keysMs = performance.now() - began;
      w.stop();
      return { seen, keys, keysMs };
    }),
  );
  for (const [i, r] of results.entries()) {
    assert.deepEqual(r.seen, ["policy=first", "policy=second"], `follower ${i}`);
    assert.deepEqual(r.keys, ["policy"], `follower ${i}'s keys`);
    // A read that lost its one entry used to wait for the server's 30 s heartbeat.
    assert.ok(r.keysMs < 2_000, `follower ${i}'s keys took ${Math.round(r.keysMs)} ms`);
  }
});

test("a stopped watch and a finished keys() leave no consumer on the server", async () => {
  const bus = await Bus.connect({ servers: nats.url, name: "consumers" });
  buses.push(bus);
  const owner = await StateBucket.open(bus, "T7");
  await owner.put("a", GatewayRunSchema, { nodeId: "a1" });
  const jsm = await jetstreamManager(bus.connection);
  const consumers = async () => (await jsm.streams.info("KV_T7")).state.consumer_count;
  const w = await owner.watch({ decode }, () => undefined);
  await w.initialized;
  assert.equal(await consumers(), 1, "the watch reads through one consumer");
  assert.deepEqual(await owner.keys(), ["a"]);
  assert.equal(await consumers(), 1, "keys() deleted its own");
  w.stop();
  await waitFor(async () => (await consumers()) === 0, { message: "the stopped watch's consumer is deleted (not left for its 5-minute inactivity threshold)" });
});

test("a watch carries on across a restart of the NATS server: its consumer is recreated, and the next write arrives", async () => {
  // Its own server: the restart must not disturb the other tests'.
  const server = await startNatsServer({ jetstream: true });
  const ownerBus = await Bus.connect({ servers: server.url, name: "owner" });
  const followerBus = await Bus.connect({ servers: server.url, name: "follower" });
  try {
    const owner = await StateBucket.open(ownerBus, "T8");
    await owner.put("policy", GatewayRunSchema, { nodeId: "before" });
    const seen: string[] = [];
    const w = await (await StateBucket.follow(followerBus, "T8")).watch({ key: "policy", decode }, (c) => seen.push(show(c)));
    await w.initialized;
    assert.deepEqual(seen, ["policy=before"]);
    // The stream is on file and survives; the watch's consumer (kept in memory) does not.
    await server.restart();
    await waitFor(() => ownerBus.connected && followerBus.connected, { message: "both reconnected" });
    await owner.put("policy", GatewayRunSchema, { nodeId: "after" });
    // A watch that only noticed its loss by missing heartbeats would wait 30 s (two missed 15 s heartbeats).
    await waitFor(() => seen.length === 2, { timeoutMs: 10_000, message: () => `the write after the restart reached the watch (saw ${seen.join(", ")})` });
    assert.deepEqual(seen, ["policy=before", "policy=after"]);
    w.stop();
  } finally {
    await ownerBus.close();
    await followerBus.close();
    await server.stop();
  }
});

test("a watch whose consumer the server loses carries on: the next write arrives within seconds, not after 30 s heartbeats, and the loss is told", async () => {
  const told: string[] = [];
  const bus = await Bus.connect({ servers: nats.url, name: "lost-consumer", onStateReadStatus: (watch, s) => told.push(`${watch} ${s.type}`) });
  buses.push(bus);
  const owner = await StateBucket.open(bus, "T9");
  await owner.put("policy", GatewayRunSchema, { nodeId: "before" });
  const seen: string[] = [];
  const w = await owner.watch({ key: "policy", decode }, (c) => seen.push(show(c)));
  await w.initialized;
  // What a server that lost the consumer (restarted, or removed it) leaves: the watch pulls from a name the server no longer has.
  const jsm = await jetstreamManager(bus.connection);
  const names: string[] = [];
  for await (const ci of jsm.consumers.list("KV_T9")) names.push(ci.name);
  assert.equal(names.length, 1);
  const lostAt = performance.now();
  await jsm.consumers.delete("KV_T9", names[0]!);
  await owner.put("policy", GatewayRunSchema, { nodeId: "after" });
  await waitFor(() => seen.length === 2, { timeoutMs: 20_000, intervalMs: 50, message: () => `the write after the loss reached the watch (saw ${seen.join(", ")})` });
  const tookMs = performance.now() - lostAt;
  assert.deepEqual(seen, ["policy=before", "policy=after"]);
  // Recovery rides on missed heartbeats: two of the pull's, so the pull's expiry bounds it (4 s; the library's default is 30).
  assert.ok(tookMs < 12_000, `recovered in ${Math.round(tookMs)} ms`);
  assert.ok(told.includes("T9/policy heartbeats_missed") && told.includes("T9/policy ordered_consumer_recreated"), `told: ${told.join(", ")}`);
  w.stop();
});

test("a watch whose read the library ends (its subscription revoked by a permission reload) begins it again: the next write arrives, and the end is told", async () => {
  const dir = await tempDir("nats-conf-");
  const conf = join(dir.path, "nats.conf");
  // The follower may subscribe to everything but `deny`: what an operator's reload of a wrong permission table does to a live subscription.
  const writeConf = (deny: string[]) =>
    writeFileSync(conf, `authorization { users: [ { user: owner, password: owner-pass }, { user: reader, password: reader-pass, permissions: { publish: ">", subscribe: { allow: ">", deny: ${JSON.stringify(deny)} } } } ] }\n`);
  writeConf([]);
  const server = await startNatsServer({ jetstream: true, configFile: conf, monitor: true });
  const told: string[] = [];
  const ownerBus = await Bus.connect({ servers: server.url, name: "owner", user: "owner", pass: "owner-pass" });
  const readerBus = await Bus.connect({ servers: server.url, name: "reader", user: "reader", pass: "reader-pass", onStateReadStatus: (watch, s) => told.push(`${watch} ${s.type} ${s.detail}`) });
  try {
    const owner = await StateBucket.open(ownerBus, "T10");
    await owner.put("policy", GatewayRunSchema, { nodeId: "before" });
    const seen: string[] = [];
    const w = await (await StateBucket.follow(readerBus, "T10")).watch({ key: "policy", decode }, (c) => seen.push(show(c)));
    await w.initialized;
    assert.deepEqual(seen, ["policy=before"]);
    // The read's own inbox (the one subscription that is not the request inbox's `.*`), as the server lists it.
    const connz = (await (await fetch(`${server.monitorUrl}/connz?subs=detail`)).json()) as { connections: Array<{ name: string; subscriptions_list_detail?: Array<{ subject: string }> }> };
    const readInboxes = (connz.connections.find((c) => c.name === "reader")?.subscriptions_list_detail ?? []).map((d) => d.subject).filter((s) => !s.endsWith(".*"));
    assert.equal(readInboxes.length, 1, `the reader's subscriptions: ${readInboxes.join(", ")}`);
    writeConf(readInboxes);
    await server.reload();
    await waitFor(() => told.some((t) => t.startsWith("T10/policy read_restarted")), { timeoutMs: 10_000, message: () => `the read was begun again (told: ${told.join(" | ")})` });
    assert.ok(
      told.some((t) => t.startsWith("T10/policy read_ended") && t.includes("Permissions Violation")),
      `the end is told with its cause: ${told.join(" | ")}`,
    );
    // The read begun again hands over the latest value once more (handlers apply state: seeing it twice changes nothing).
    // Waited for before the next write: the new read's consumer is created on the server after begin() returns, and
    // a write that lands first would be the latest value it hands over.
    await waitFor(() => seen.length === 2, { timeoutMs: 10_000, message: () => `the latest value handed over again (saw ${seen.join(", ")})` });
    await owner.put("policy", GatewayRunSchema, { nodeId: "after" });
    await waitFor(() => seen.includes("policy=after"), { timeoutMs: 10_000, message: () => `the write after the end reached the watch (saw ${seen.join(", ")})` });
    assert.deepEqual(seen, ["policy=before", "policy=before", "policy=after"]);
    // Stopped, it is not begun again.
    w.stop();
    const toldBefore = told.length;
    await owner.put("policy", GatewayRunSchema, { nodeId: "stopped" });
    const left = async () => (await (await jetstreamManager(readerBus.connection)).consumers.list("KV_T10").next()).map((c) => `${c.name} (from ${c.config.opt_start_seq ?? c.config.deliver_policy}, created ${c.created})`);
    let consumersLeft: string[] = [];
    await waitFor(async () => (consumersLeft = await left()).length === 0, { message: () => `the stopped watch's consumer is deleted (left: ${consumersLeft.join(", ")}; told: ${told.join(" | ")})` });
    assert.equal(told.length, toldBefore);
    assert.ok(!seen.includes("policy=stopped"));
  } finally {
    await ownerBus.close();
    await readerBus.close();
    await server.stop();
    await dir.remove();
  }
});

/**
 * A server whose `reader` may not delete consumers until `allowDeletes()`: what
 * a reload of the server's configuration does for a moment to every JetStream
 * API request (answered "JetStream not enabled for account", or not at all),
 * held for as long as a test needs. The reader follows bucket `name`, which
 * holds one key; its watch is running.
 */
async function followerRefusedDeletes(name: string, o: { pollMs: number; maxPollMs: number }) {
  const dir = await tempDir("nats-conf-");
  const conf = join(dir.path, "nats.conf");
  const writeConf = (deny: string[]) =>
    writeFileSync(conf, `authorization { users: [ { user: owner, password: owner-pass }, { user: reader, password: reader-pass, permissions: { publish: { allow: ">", deny: ${JSON.stringify(deny)} }, subscribe: ">" } } ] }\n`);
  writeConf(["$JS.API.CONSUMER.DELETE.>"]);
  const server = await startNatsServer({ jetstream: true, configFile: conf });
  const told: string[] = [];
  const refused: string[] = [];
  const ownerBus = await Bus.connect({ servers: server.url, name: "owner", user: "owner", pass: "owner-pass" });
  const readerBus = await Bus.connect({
    servers: server.url,
    name: "reader",
    user: "reader",
    pass: "reader-pass",
    onStateReadStatus: (watch, s) => told.push(`${watch} ${s.type} ${s.detail}`),
    onPermissionError: (_op, subject) => refused.push(subject),
  });
  const owner = await StateBucket.open(ownerBus, name);
  await owner.put("policy", GatewayRunSchema, { nodeId: "before" });
  const w = await (await StateBucket.follow(readerBus, name, o)).watch({ key: "policy", decode }, () => undefined);
  await w.initialized;
  const jsm = await jetstreamManager(ownerBus.connection);
  const names: string[] = [];
  for await (const ci of jsm.consumers.list(`KV_${name}`)) names.push(ci.name);
  assert.equal(names.length, 1, "the watch reads through one consumer");
  return {
    watch: w,
    consumer: names[0]!,
    told,
    refused,
    consumers: async () => (await jsm.streams.info(`KV_${name}`)).state.consumer_count,
    allowDeletes: async () => {
      writeConf([]);
      await server.reload();
    },
    close: async () => {
      await ownerBus.close();
      await readerBus.close();
      await server.stop();
      await dir.remove();
    },
  };
}

test("a stopped watch whose consumer NATS cannot delete at the moment tries again: once it can, the consumer is gone, and nothing is told", async () => {
  const f = await followerRefusedDeletes("T11", { pollMs: 100, maxPollMs: 1_000 });
  try {
    f.watch.stop();
    // Refused once or more (the tries wait 100, 200, 400, 800, 1000… ms): a delete tried once and forgotten leaves it for 5 minutes.
    await waitFor(() => f.refused.some((s) => s.includes(`CONSUMER.DELETE.KV_T11.${f.consumer}`)), { message: "the delete was refused" });
    assert.equal(await f.consumers(), 1);
    await f.allowDeletes();
    await waitFor(async () => (await f.consumers()) === 0, { message: () => `the consumer is deleted once NATS lets it be (refused: ${f.refused.length})` });
    assert.deepEqual(f.told, []);
  } finally {
    await f.close();
  }
});

test("a stopped watch whose consumer NATS never lets it delete gives up after its tries and tells consumer_left with the consumer's name", async () => {
  const f = await followerRefusedDeletes("T12", { pollMs: 20, maxPollMs: 50 });
  try {
    f.watch.stop();
    await waitFor(() => f.told.length > 0, { message: "the give-up is told" });
    assert.equal(f.told.length, 1, f.told.join(" | "));
    assert.match(f.told[0]!, new RegExp(`^T12/policy consumer_left .*"name":"${f.consumer}".*"attempts":8.*Permissions Violation`));
    assert.equal(f.refused.filter((s) => s.includes("CONSUMER.DELETE")).length, 8, "tried 8 times, no more");
    assert.equal(await f.consumers(), 1, "left on the server, which removes it after 5 minutes");
  } finally {
    await f.close();
  }
});

/** A follower's view of a bucket: the changes a watch hands over, applied. */
function mirror(): { view: Map<string, string>; apply: (c: StateChange<GatewayRun>) => void; show: () => string } {
  const view = new Map<string, string>();
  return {
    view,
    apply: (c) => void (c.op === "put" ? view.set(c.key, c.value.nodeId) : view.delete(c.key)),
    show: () => [...view].map(([k, v]) => `${k}=${v}`).sort().join(","),
  };
}

/** An owner of bucket `name`, a follower's and an operator's connections beside it, and what owner and follower are told. */
async function ownerAndFollower(name: string, limits: StateBucketLimits = {}) {
  const told: string[] = [];
  const recreated: string[] = [];
  const ownerBus = await Bus.connect({ servers: nats.url, name: "owner", onStateBucketRecreated: (b, how, n) => recreated.push(`${b} ${how} ${n}`) });
  const followerBus = await Bus.connect({ servers: nats.url, name: "follower", onStateReadStatus: (watch, s) => told.push(`${watch} ${s.type} ${s.detail}`) });
  const operatorBus = await Bus.connect({ servers: nats.url, name: "operator" });
  buses.push(ownerBus, followerBus, operatorBus);
  const owner = await StateBucket.open(ownerBus, name, limits);
  return { owner, followerBus, operatorBus, told, recreated, jsm: await jetstreamManager(operatorBus.connection) };
}

/** The follower's watch of the whole bucket, applied to a mirror, with the keys it was handed as deleted; once initialized. */
async function followInto(bus: Bus, name: string) {
  const m = mirror();
  const deletes: string[] = [];
  const w = await (await StateBucket.follow(bus, name)).watch({ decode }, (c) => {
    if (c.op === "delete") deletes.push(c.key);
    m.apply(c);
  });
  await w.initialized;
  return { m, deletes, w };
}

test("a bucket deleted under its owner and followers (an operator's `nats kv rm`) is created again by the owner's next write, with every entry the owner holds; a follower's watch reads the new bucket whole", async () => {
  const { owner, followerBus, told, recreated, jsm } = await ownerAndFollower("T11");
  for (const [k, v] of [["a", "a1"], ["b", "b1"], ["c", "c1"]]) await owner.put(k!, GatewayRunSchema, { nodeId: v });
  await owner.delete("c");
  const { m, w } = await followInto(followerBus, "T11");
  assert.equal(m.show(), "a=a1,b=b1");

  await jsm.streams.delete("KV_T11");
  // The owner's next write finds no bucket: it creates it again, writes back a and b, then d.
  await owner.put("d", GatewayRunSchema, { nodeId: "d1" });
  assert.deepEqual(recreated, ["T11 deleted 2"]);
  await waitFor(() => m.show() === "a=a1,b=b1,d=d1", { timeoutMs: 15_000, message: () => `the follower sees the new bucket (${m.show()}; told: ${told.join(" | ")})` });
  assert.ok(told.some((t) => t.startsWith("T11/> read_ended") && t.includes("deleted")), `the end is told with its cause: ${told.join(" | ")}`);
  assert.ok(told.some((t) => t.startsWith("T11/> read_restarted")), told.join(" | "));
  // And every later change.
  await owner.delete("b");
  await owner.put("a", GatewayRunSchema, { nodeId: "a2" });
  await waitFor(() => m.show() === "a=a2,d=d1", { message: () => `later changes (${m.show()})` });
  w.stop();
  await waitFor(async () => (await jsm.streams.info("KV_T11")).state.consumer_count === 0, { message: "no consumer left" });
});

test("a bucket replaced by an empty one (created again by someone else) is noticed by its owner's next write and filled again; followers drop what the new bucket lacks meanwhile", async () => {
  const { owner, followerBus, operatorBus, told, recreated, jsm } = await ownerAndFollower("T12");
  for (const [k, v] of [["a", "a1"], ["b", "b1"], ["c", "c1"]]) await owner.put(k!, GatewayRunSchema, { nodeId: v });
  const { m, w } = await followInto(followerBus, "T12");
  assert.equal(m.show(), "a=a1,b=b1,c=c1");

  await jsm.streams.delete("KV_T12");
  await StateBucket.open(operatorBus, "T12");
  // The follower's read ends on its lost consumer, and the new bucket has none of the three: each is handed a delete.
  await waitFor(() => m.view.size === 0 && told.some((t) => t.startsWith("T12/> read_restarted")), { timeoutMs: 15_000, message: () => `the follower reads the empty bucket (${m.show()}; told: ${told.join(" | ")})` });
  // The owner's next write lands in the new stream (its revision starts again): the owner writes back what it holds.
  await owner.put("b", GatewayRunSchema, { nodeId: "b2" });
  assert.deepEqual(recreated, ["T12 replaced 3"]);
  await waitFor(() => m.show() === "a=a1,b=b2,c=c1", { message: () => `the follower sees the owner's entries again (${m.show()})` });
  w.stop();
});

test("an owner with nothing to write finds its bucket deleted, or replaced, within checkEveryMs and writes it back; its followers read it whole", async () => {
  const { owner, followerBus, operatorBus, recreated, jsm } = await ownerAndFollower("T13", { checkEveryMs: 200 });
  for (const [k, v] of [["a", "a1"], ["b", "b1"]]) await owner.put(k!, GatewayRunSchema, { nodeId: v });
  const { m, deletes, w } = await followInto(followerBus, "T13");

  await jsm.streams.delete("KV_T13");
  await waitFor(() => recreated.length === 1, { message: "the owner's look finds the bucket gone" });
  assert.deepEqual(recreated, ["T13 deleted 2"]);
  await owner.put("c", GatewayRunSchema, { nodeId: "c1" });
  await waitFor(() => m.show() === "a=a1,b=b1,c=c1", { timeoutMs: 15_000, message: () => `the follower reads the new bucket (${m.show()})` });

  // Past the revisions the next stream will have: a follower going on from its old place would miss them.
  for (let i = 2; i <= 6; i++) await owner.put("b", GatewayRunSchema, { nodeId: `b${i}` });
  await waitFor(() => m.show() === "a=a1,b=b6,c=c1", { message: () => `b6 (${m.show()})` });
  await jsm.streams.delete("KV_T13");
  await StateBucket.open(operatorBus, "T13", { checkEveryMs: 0 });
  await waitFor(() => recreated.length === 2, { message: "the owner's look finds another stream" });
  assert.deepEqual(recreated[1], "T13 replaced 3");
  // Each look that finds the same stream writes nothing: three entries written back, then d.
  const revision = await owner.put("d", GatewayRunSchema, { nodeId: "d1" });
  assert.equal(revision, 4);
  await waitFor(() => m.show() === "a=a1,b=b6,c=c1,d=d1", { timeoutMs: 15_000, message: () => `the follower reads the new stream from its start (${m.show()})` });
  assert.equal(recreated.length, 2);
  // The owner filled each new bucket within 200 ms, one entry at a time: a read begun halfway waited for the rest.
  assert.deepEqual(deletes, [], "no key the owner kept was ever handed over as deleted");
  w.stop();
});

test("a follower whose read begins again while the owner writes its 3,000 entries back, one by one, hands over no delete for them", async () => {
  const { owner, followerBus, told, recreated, jsm } = await ownerAndFollower("T14", { checkEveryMs: 100 });
  const keys = Array.from({ length: 3_000 }, (_, i) => `c.${i}`);
  await Promise.all(keys.map((k) => owner.put(k, GatewayRunSchema, { nodeId: k })));
  const { m, deletes, w } = await followInto(followerBus, "T14");
  assert.equal(m.view.size, keys.length);
  await jsm.streams.delete("KV_T14");
  await waitFor(() => recreated.length === 1, { message: "the owner writes its bucket back" });
  // The follower's read begins again within the write-back (its retries come 250, 750 and 1,750 ms after the
  // delete; the owner tells of the write-back once it is done).
  await waitFor(() => told.some((t) => t.startsWith("T14/> read_restarted")), { message: "the follower reads again" });
  // What must not happen has no event to wait for: the bucket stays quiet for the 2 s grace of absent keys.
  await new Promise((r) => setTimeout(r, 2_200));
  assert.equal(m.view.size, keys.length);
  assert.deepEqual(deletes.slice(0, 3), [], `handed over as deleted: ${deletes.length}`);
  w.stop();
});
