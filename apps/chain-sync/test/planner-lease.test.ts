import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import { createLogger } from "@timenet/telemetry";
import { startNatsServer, startTcpRelay, waitFor, type NatsServerHandle, type TcpRelay } from "@timenet/testkit";
import { SyncMetrics } from "../src/metrics.js";
import { LEASE_BUCKET, LEASE_KEY, PlannerLease } from "../src/planner-lease.js";

const logger = createLogger({ service: "chain-sync", node: "lease-test", level: process.env.TEST_LOG_LEVEL ?? "silent", pretty: false });
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

interface Replica {
  lease: PlannerLease;
  metrics: SyncMetrics;
  /** Every "changed" it emitted, in order. */
  changes: boolean[];
}

async function replica(nc: NatsConnection, workerId: string, ttlMs: number): Promise<Replica> {
  const metrics = new SyncMetrics(new Registry());
  const lease = new PlannerLease({ nc, workerId, ttlMs, logger, metrics, onListenerError: (e, err) => assert.fail(`${e}: ${String(err)}`) });
  const changes: boolean[] = [];
  lease.on("changed", (leader) => changes.push(leader));
  await lease.start();
  cleanups.push(() => lease.stop());
  return { lease, metrics, changes };
}

async function natsWithRelay(): Promise<{ nats: NatsServerHandle; relay: TcpRelay; direct: NatsConnection; relayed: NatsConnection }> {
  const nats = await startNatsServer({ jetstream: true });
  cleanups.push(() => nats.stop());
  const relay = await startTcpRelay({ target: { host: "127.0.0.1", port: nats.port } });
  cleanups.push(() => relay.stop());
  const direct = await connect({ servers: nats.url });
  // The replica behind the relay must not give up on a stalled connection (its pings are minutes apart anyway).
  const relayed = await connect({ servers: `nats://${relay.host}:${relay.port}`, maxReconnectAttempts: -1 });
  cleanups.push(() => direct.close(), () => relayed.close());
  return { nats, relay, direct, relayed };
}

/** The lease key's writes, as they happen (a watch on a connection that is never stalled). */
async function keyWrites(nc: NatsConnection): Promise<{ kv: KV; next(): Promise<KvEntry> }> {
  const kv = await new Kvm(nc).open(LEASE_BUCKET);
  const watch = await kv.watch({ key: LEASE_KEY, include: "updates" });
  cleanups.push(async () => watch.stop());
  const it = watch[Symbol.asyncIterator]();
  return {
    kv,
    async next() {
      const r = await it.next();
      if (r.done) throw new Error("watch ended");
      return r.value;
    },
  };
}

async function renewalFailures(m: SyncMetrics, reason: string): Promise<number> {
  return (await m.leaseRenewalFailures.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe("planner lease", () => {
  test("a stall of the leader's NATS path longer than a third of the TTL (but shorter than the TTL) keeps it leader, and nobody else leads", async () => {
    const TTL = 4_500;
    const { relay, direct, relayed } = await natsWithRelay();
    const a = await replica(relayed, "a", TTL);
    const b = await replica(direct, "b", TTL);
    assert.equal(a.lease.leader, true);
    assert.equal(b.lease.leader, false);
    const writes = await keyWrites(direct);
    // Right after a renewal has reached a (the flush's PONG follows the renewal's answer), so that two renewal periods fall inside the stall.
    assert.equal((await writes.next()).string(), "a");
    await relayed.flush();
    relay.pause();
    await new Promise((r) => setTimeout(r, 3_200)); // the stall itself: more than 2×TTL/3, less than the TTL
    relay.resume();
    // Two renewals by a after the stall: by then any renewal that raced another has answered.
    assert.equal((await writes.next()).string(), "a");
    assert.equal((await writes.next()).string(), "a");
    assert.deepEqual(a.changes, [true], "a never dropped leadership");
    assert.deepEqual(b.changes, [], "b never led");
    assert.equal(a.lease.leader, true);
  });

  test("a renewal whose answer was lost (the key holds our id at a newer revision) keeps leadership and adopts the revision", async () => {
    const TTL = 1_500;
    const { direct, relayed } = await natsWithRelay();
    const a = await replica(relayed, "a", TTL);
    const b = await replica(direct, "b", TTL);
    const writes = await keyWrites(direct);
    await writes.next();
    // As if a's last renewal was written but its answer never reached a: a's revision is stale now.
    await writes.kv.put(LEASE_KEY, "a");
    await writes.next();
    assert.equal((await writes.next()).string(), "a");
    assert.equal((await writes.next()).string(), "a");
    assert.deepEqual(a.changes, [true]);
    assert.deepEqual(b.changes, []);
    assert.equal(await renewalFailures(a.metrics, "wrong_revision"), 1, "the stale renewal failed once");
  });

  test("a renewal that times out once keeps leadership when the key is still ours", async () => {
    const TTL = 4_500;
    const { relay, direct, relayed } = await natsWithRelay();
    const a = await replica(relayed, "a", TTL);
    const b = await replica(direct, "b", TTL);
    const writes = await keyWrites(direct);
    await writes.next();
    await relayed.flush();
    relay.pause();
    await waitFor(async () => (await renewalFailures(a.metrics, "timeout")) >= 1, { timeoutMs: TTL, message: "a renewal timed out" });
    relay.resume();
    assert.equal((await writes.next()).string(), "a");
    assert.equal((await writes.next()).string(), "a");
    assert.deepEqual(a.changes, [true]);
    assert.deepEqual(b.changes, []);
  });

  test("a leader cut off for a whole TTL drops leadership (the key may have expired), and another replica takes over", async () => {
    const TTL = 1_500;
    const { relay, direct, relayed } = await natsWithRelay();
    const a = await replica(relayed, "a", TTL);
    const b = await replica(direct, "b", TTL);
    relay.pause();
    await waitFor(() => a.changes.includes(false), { timeoutMs: 2 * TTL, message: "a drops leadership" });
    await waitFor(() => b.lease.leader, { timeoutMs: 2 * TTL, message: "b takes over" });
    relay.resume();
    await waitFor(async () => (await holder(direct)) === "b", { message: "b holds the key" });
    assert.equal(a.lease.leader, false);
  });
});

async function holder(nc: NatsConnection): Promise<string> {
  const e = await (await new Kvm(nc).open(LEASE_BUCKET)).get(LEASE_KEY);
  return e?.operation === "PUT" ? e.string() : "";
}
