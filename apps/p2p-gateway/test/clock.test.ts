// A node whose clock is wrong bans nobody, is banned by nobody, and says so
// itself: real gateways on real sockets, one of them with its wall clock 20 s
// behind (THREAT-MODEL: "the network itself" lets clocks drift).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { toBinary } from "@bufbuild/protobuf";
import { GatewayService, HelloSchema, OffenceSchema, Subjects, type Offence } from "@timenet/proto";
import { createGrpcClient } from "@timenet/grpc";
import { createLogger } from "@timenet/telemetry";
import { waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { ClockOffsets, describeOffset, judgeClock, median } from "../src/clock-offsets.js";
import { GatewayMetrics } from "../src/metrics.js";
import { Registry } from "prom-client";
import type { CloseInfo, PeerConnection } from "../src/peer-connection.js";
import { dialVia, metricValue, nodePool, record, ScriptedPeer, waitConnected, type TestNode } from "./harness.js";
import { ManualClock } from "./manual-clock.js";

const { node, stopAll } = nodePool();
after(stopAll);

const SLOW_MS = 20_000;
/** Loopback handshakes take milliseconds; the test allows far more. */
const TOLERANCE_S = 1;

function closes(n: TestNode): CloseInfo[] {
  const got: CloseInfo[] = [];
  n.gateway.events.on("closing", (_c: PeerConnection, info: CloseInfo) => got.push(info));
  return got;
}

describe("median and threshold", () => {
  test("median of odd and even counts; none is 0", () => {
    assert.equal(median([]), 0);
    assert.equal(median([5]), 5);
    assert.equal(median([3, -20, 1]), 1);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  test("suspect only with enough peers and beyond the threshold, either way", () => {
    assert.deepEqual(judgeClock([-20_000, -20_000], 5_000, 3), { offsetMs: -20_000, peers: 2, judged: false, suspect: false });
    assert.deepEqual(judgeClock([-20_000, -19_990, -20_010], 5_000, 3), { offsetMs: -20_000, peers: 3, judged: true, suspect: true });
    assert.equal(judgeClock([6_000, 6_000, 6_000], 5_000, 3).suspect, true, "ahead counts too");
    assert.equal(judgeClock([5_000, 5_000, 5_000], 5_000, 3).suspect, false, "at the threshold is not beyond it");
    // One peer with a wrong clock (here 20 s behind us: offset +20 s) cannot make an honest node suspect.
    assert.deepEqual(judgeClock([10, -5, 20_000], 5_000, 3), { offsetMs: 10, peers: 3, judged: true, suspect: false });
    assert.equal(judgeClock([], 5_000, 1).judged, false);
  });

  test("describeOffset names the direction", () => {
    assert.equal(describeOffset(-20_080), "20.1 s behind");
    assert.equal(describeOffset(300), "0.3 s ahead of");
  });

  test("samples follow our wall clock: a step of it (NTP) shows without a new handshake", () => {
    const mono = new ManualClock();
    let wall = 1_700_000_000_000 - SLOW_MS;
    const metrics = new GatewayMetrics(new Registry());
    const logger = createLogger({ service: "p2p-gateway", node: "t", level: "silent", pretty: false });
    const offsets = new ClockOffsets({ clock: mono, wallClock: () => wall + mono.now(), warnOffsetMs: 5_000, minPeers: 3, metrics, logger });
    // Three honest peers at 1_700_000_000_000 (their Hellos took 1 ms: rtt 2 ms).
    for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3"] as PeerIp[]) {
      offsets.add(ip, { peerTimestampMs: 1_700_000_000_000 - 1 + mono.now(), receivedMonoMs: mono.now(), rttMs: 2 });
    }
    const v = offsets.evaluate();
    assert.equal(v.suspect, true);
    assert.equal(v.offsetMs, -SLOW_MS);
    mono.advance(60_000);
    assert.equal(offsets.evaluate().offsetMs, -SLOW_MS, "time passing changes nothing");
    wall += SLOW_MS; // NTP steps our clock
    assert.deepEqual(offsets.evaluate(), { offsetMs: 0, peers: 3, judged: true, suspect: false });
    offsets.remove("10.0.0.1" as PeerIp);
    assert.deepEqual(offsets.evaluate(), { offsetMs: 0, peers: 2, judged: false, suspect: false });
  });
});

describe("a node whose clock is 20 s slow", () => {
  test("every handshake completes, nothing closes, nobody is reported, and only the slow node is suspect", async () => {
    const all = await Promise.all([node(100, { wallClock: () => Date.now() - SLOW_MS }), node(101), node(102), node(103)]);
    const [slow, ...honest] = all as [TestNode, ...TestNode[]];
    const offences: Offence[][] = all.map((n) => record(n.bus, Subjects.offence, OffenceSchema));
    const closed = all.map(closes);
    await Promise.all(all.map((n) => n.bus.flush()));

    // Every pair linked, as the registries would (each dials the ones after it).
    for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) await dialVia(all[i]!, all[j]!);
    for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) await waitConnected(all[i]!, all[j]!);

    await waitFor(async () => (await metricValue(slow.gateway, "timenet_gateway_clock_suspect")) === 1, { message: "slow node suspect" });
    assert.equal(await metricValue(slow.gateway, "timenet_gateway_clock_peers"), 3);
    const offset = await metricValue(slow.gateway, "timenet_gateway_clock_offset_seconds");
    assert.ok(Math.abs(offset + SLOW_MS / 1000) < TOLERANCE_S, `slow node's offset ${offset} s, expected about -20 s`);

    for (const n of honest) {
      await waitFor(async () => (await metricValue(n.gateway, "timenet_gateway_clock_peers")) === 3, { message: `${n.ip} sampled 3 peers` });
      assert.equal(await metricValue(n.gateway, "timenet_gateway_clock_suspect"), 0, `${n.ip} is not suspect`);
      const o = await metricValue(n.gateway, "timenet_gateway_clock_offset_seconds");
      assert.ok(Math.abs(o) < TOLERANCE_S, `${n.ip}: offset ${o} s (the slow peer is one of three)`);
    }

    // The slow node's operator sees it (GetInfo: timenetctl status).
    const client = createGrpcClient(GatewayService, `127.0.0.1:${slow.gateway.grpcPort}`);
    try {
      const info = await client.getInfo({});
      assert.equal(info.clockSuspect, true);
      assert.equal(info.clockPeers, 3);
      assert.equal(info.clockMinPeers, 3);
      assert.equal(info.clockWarnOffsetMs, 5_000n);
      assert.ok(Math.abs(info.clockOffsetMs + SLOW_MS) < TOLERANCE_S * 1000, `GetInfo offset ${info.clockOffsetMs} ms`);
    } finally {
      client.close();
    }

    // Any offence would have been published while its handshake was read; a
    // round trip through each node's NATS delivers whatever was.
    await Promise.all(all.map((n) => n.bus.flush()));
    assert.deepEqual(offences.map((o) => o.length), [0, 0, 0, 0], "no offence published on any node");
    assert.deepEqual(closed.map((c) => c.map((i) => i.detail)), [[], [], [], []], "no connection closed");
    for (const n of all) {
      assert.equal(n.gateway.manager.connections().length, 3, `${n.ip} keeps its 3 peers`);
      assert.equal(await metricValue(n.gateway, "timenet_gateway_disconnects_total"), 0);
      assert.equal(await metricValue(n.gateway, "timenet_gateway_handshake_failures_total"), 0);
    }
  });

  test("a peer whose Hello is 10 minutes off (either way) completes its handshake and is not reported", async () => {
    const a = await node(104);
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    await a.bus.flush();
    for (const skewMs of [-600_000, 600_000]) {
      const peer = await ScriptedPeer.dial(a.endpoint, "127.0.0.105", ScriptedPeer.identity(), {
        hello: (p, binding) => toBinary(HelloSchema, p.hello(binding, { timestampMs: BigInt(Date.now() + skewMs) })),
      });
      try {
        await peer.handshake(); // the gateway answers our Ping: it accepted the skewed Hello
        await waitFor(() => a.gateway.manager.isConnected("127.0.0.105" as PeerIp), { message: `connected with a Hello ${skewMs} ms off` });
        // One peer: not enough to judge our clock, but its sample is there.
        assert.equal(await metricValue(a.gateway, "timenet_gateway_clock_peers"), 1);
        const offset = await metricValue(a.gateway, "timenet_gateway_clock_offset_seconds");
        assert.ok(Math.abs(offset + skewMs / 1000) < TOLERANCE_S, `offset ${offset} s for a peer ${skewMs} ms off`);
        assert.equal(await metricValue(a.gateway, "timenet_gateway_clock_suspect"), 0);
        assert.equal(peer.goodbyes().length, 0);
      } finally {
        peer.close();
      }
      await waitFor(() => !a.gateway.manager.isConnected("127.0.0.105" as PeerIp), { message: "scripted peer gone" });
      assert.equal(await metricValue(a.gateway, "timenet_gateway_clock_peers"), 0, "its sample went with its connection");
    }
    await a.bus.flush();
    assert.deepEqual(offences, []);
  });
});
