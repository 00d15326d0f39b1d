import { test } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { createLogger } from "@timenet/telemetry";
import { Heartbeat } from "../src/heartbeat.js";
import { GatewayMetrics } from "../src/metrics.js";
import { ManualClock } from "./manual-clock.js";

const INTERVAL = 100;

/** A heartbeat on a manual clock, with a peer the test answers for by hand. */
function setup(missedPongs = 3) {
  const clock = new ManualClock();
  const registry = new Registry();
  const pings: bigint[] = [];
  const rtts: number[] = [];
  const timeouts: number[] = [];
  const hb = new Heartbeat(
    { sendPing: (nonce) => pings.push(nonce), pong: (rtt) => rtts.push(rtt), timedOut: (n) => timeouts.push(n) },
    {
      intervalMs: INTERVAL,
      missedPongs,
      clock,
      metrics: new GatewayMetrics(registry),
      peerLabel: "other",
      log: createLogger({ service: "test", node: "test", level: "silent", pretty: false }),
    },
  );
  const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.reduce((sum, v) => sum + v.value, 0);
  return { clock, hb, pings, rtts, timeouts, metric };
}

test("a ping every interval; a pong clears its own ping and gives the round trip", async () => {
  const { clock, hb, pings, rtts, timeouts, metric } = setup();
  hb.start();
  assert.equal(pings.length, 1, "the first ping goes out at once");
  clock.advance(7);
  hb.onPong(pings[0]!);
  assert.deepEqual(rtts, [7]);
  assert.equal(hb.lastRttMs, 7);
  for (let i = 1; i <= 50; i++) {
    clock.advance(INTERVAL);
    assert.equal(pings.length, i + 1, `one ping per interval (${i})`);
    hb.onPong(pings[i]!);
  }
  assert.deepEqual(timeouts, []);
  assert.equal(await metric("timenet_gateway_pings_sent_total"), 51);
  assert.equal(await metric("timenet_gateway_pongs_received_total"), 51);
  assert.equal(await metric("timenet_gateway_pongs_missed_total"), 0);
});

test("missedPongs consecutive unanswered pings time the link out after that many intervals, without a burst", async () => {
  const { clock, hb, pings, timeouts, metric } = setup(3);
  hb.start();
  clock.advance(3 * INTERVAL - 1);
  assert.deepEqual(timeouts, []);
  assert.equal(pings.length, 3);
  clock.advance(1);
  assert.deepEqual(timeouts, [3]);
  assert.equal(pings.length, 3, "no ping after the timeout");
  assert.equal(await metric("timenet_gateway_pongs_missed_total"), 3);
  clock.advance(10 * INTERVAL);
  assert.deepEqual(timeouts, [3], "timed out once, then silent");
  assert.equal(clock.pendingTimers, 0);
});

test("a pong clears the older unanswered pings as missed, and the count of consecutive misses starts over", async () => {
  const { clock, hb, pings, timeouts, metric } = setup(3);
  hb.start();
  clock.advance(2 * INTERVAL); // three pings out, none answered
  hb.onPong(pings[2]!);
  assert.equal(await metric("timenet_gateway_pongs_missed_total"), 2);
  // From the answered ping on, it takes three unanswered ones in a row again.
  clock.advance(3 * INTERVAL);
  assert.deepEqual(timeouts, []);
  clock.advance(INTERVAL);
  assert.deepEqual(timeouts, [3]);
});

test("a pong for no outstanding ping is ignored", async () => {
  const { hb, pings, rtts, metric } = setup();
  hb.start();
  hb.onPong(pings[0]! + 1n);
  assert.deepEqual(rtts, []);
  assert.equal(await metric("timenet_gateway_pongs_missed_total"), 0);
  hb.onPong(pings[0]!);
  hb.onPong(pings[0]!); // a duplicate
  assert.equal(rtts.length, 1);
});

test("pongs that arrived while the timer was due are read before any ping is counted missing", () => {
  const { clock, hb, pings, timeouts } = setup(1);
  hb.start();
  // The tick is due; in the same turn of the event loop the pong is read.
  clock.stall(INTERVAL);
  clock.fireOverdue();
  hb.onPong(pings[0]!);
  clock.runImmediates();
  assert.deepEqual(timeouts, []);
  assert.equal(pings.length, 2, "the next ping went out");
});

test("an event-loop stall is not blamed on the peer, and the missed ticks are not sent as a burst", () => {
  const { clock, hb, pings, timeouts } = setup(1);
  hb.start();
  // Our process is frozen for ten intervals with our ping unanswered.
  clock.stall(10 * INTERVAL);
  clock.fireOverdue();
  clock.runImmediates();
  assert.deepEqual(timeouts, [], "our stall, not the peer's fault");
  assert.equal(pings.length, 2, "one ping after the stall, not ten");
  // From there on the normal rule applies again.
  clock.advance(INTERVAL);
  assert.deepEqual(timeouts, [2]);
});

test("stop ends the heartbeat: no ping, no timeout", () => {
  const { clock, hb, pings, timeouts } = setup(1);
  hb.start();
  clock.stall(INTERVAL);
  clock.fireOverdue(); // the check is queued...
  hb.stop(); // ...and the connection closes before it runs
  clock.runImmediates();
  clock.advance(10 * INTERVAL);
  assert.equal(pings.length, 1);
  assert.deepEqual(timeouts, []);
  assert.equal(clock.pendingTimers, 0);
});
