import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DialFailedSchema, DialRequestSchema, Direction, DisconnectReason, GatewayService, Subjects } from "@timenet/proto";
import { freePort, waitFor } from "@timenet/testkit";
import { createGrpcClient } from "@timenet/grpc";
import { connectionStates, dialVia, metricValue, nextEvent, record, nodePool, waitConnected } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

describe("two gateways", () => {
  test("handshake, ping/pong in both directions with RTT, and a stable connection id", async () => {
    const a = await node(2);
    const aStates = await connectionStates(a);
    const aConnected = aStates.established;
    const aDisconnected = aStates.ended;
    const b = await node(3);
    // The registry's instruction, on b's real NATS: b dials a.
    await dialVia(b, a);
    await waitConnected(a, b);

    const onA = a.gateway.manager.get(b.ip)!;
    const onB = b.gateway.manager.get(a.ip)!;
    // b dialled; a accepted.
    assert.equal(onB.direction, Direction.OUTBOUND);
    assert.equal(onA.direction, Direction.INBOUND);
    // Both ends describe the same socket.
    assert.equal(onA.remotePort, onB.localPort);

    // Pongs arrive on both sides: the outbound side too (the old node's bug).
    const pongs = { a: 0, b: 0 };
    onA.events.on("pong", () => pongs.a++);
    onB.events.on("pong", () => pongs.b++);
    await waitFor(() => pongs.a >= 20 && pongs.b >= 20, { timeoutMs: 15_000, message: "20 pongs each way" });
    assert.ok(onA.lastRttMs > 0 && onA.lastRttMs < 1000, `rtt ${onA.lastRttMs}`);
    assert.ok(onB.lastRttMs > 0 && onB.lastRttMs < 1000, `rtt ${onB.lastRttMs}`);
    assert.ok((await metricValue(b.gateway, "timenet_gateway_pongs_received_total")) >= 20);
    assert.ok((await metricValue(a.gateway, "timenet_gateway_rtt_seconds")) >= 0);

    // 20 ping intervals later: still the very same connection, never cycled.
    assert.equal(a.gateway.manager.get(b.ip), onA);
    assert.equal(b.gateway.manager.get(a.ip), onB);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_disconnects_total"), 0);
    assert.equal(await metricValue(b.gateway, "timenet_gateway_disconnects_total"), 0);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_pongs_missed_total"), 0);
    assert.equal(a.gateway.manager.socketCount(), 1);

    // The published state shows exactly one connection with the peer's hello, and no end.
    await waitFor(() => aConnected.length >= 1, { message: "connection state published" });
    assert.equal(aConnected.length, 1);
    assert.equal(aConnected[0]!.ip, "127.0.0.3");
    assert.equal(aConnected[0]!.connId, onA.connId);
    assert.equal(aConnected[0]!.direction, Direction.INBOUND);
    assert.equal(aConnected[0]!.hello!.listenPort, b.gateway.p2pPort);
    assert.equal(Buffer.from(aConnected[0]!.hello!.nodeId).toString("hex"), b.gateway.nodeId);
    assert.equal(aDisconnected.length, 0);

    // An operator disconnect is reported with its reason on both ends.
    a.gateway.manager.disconnect(b.ip, DisconnectReason.OPERATOR, "test");
    await waitFor(() => aDisconnected.length === 1, { message: "end published" });
    assert.equal(aDisconnected[0]!.ended!.reason, DisconnectReason.OPERATOR);
    assert.equal(aDisconnected[0]!.connId, onA.connId);
    // The peer learns why from the Goodbye: same reason, initiated by the other side.
    await waitFor(async () => (await metricValue(b.gateway, "timenet_gateway_disconnects_total", { reason: "operator", initiator: "peer" })) === 1, {
      message: "b counts the operator close",
    });
    // Both ends list it among their recent disconnects (GetInfo, timenetctl status).
    const client = createGrpcClient(GatewayService, `127.0.0.1:${b.gateway.grpcPort}`);
    try {
      const recent = (await client.getInfo({})).recentDisconnects;
      assert.equal(recent.length, 1);
      assert.equal(recent[0]!.ip, a.ip);
      assert.equal(recent[0]!.reason, DisconnectReason.OPERATOR);
      assert.equal(recent[0]!.initiator, "peer");
    } finally {
      client.close();
    }
  });

  test("simultaneous dial resolves to the same single socket on both ends", async () => {
    const a = await node(4);
    const b = await node(5);
    for (let round = 0; round < 3; round++) {
      // Both dial each other at the same moment.
      await Promise.allSettled([a.gateway.manager.dial(b.endpoint), b.gateway.manager.dial(a.endpoint)]);
      await waitConnected(a, b);
      // Exactly one socket remains per side at the OS level, and it is the same link.
      await waitFor(() => a.gateway.manager.socketCount(b.ip) === 1 && b.gateway.manager.socketCount(a.ip) === 1, {
        message: `round ${round}: one socket per side`,
      });
      const onA = a.gateway.manager.get(b.ip)!;
      const onB = b.gateway.manager.get(a.ip)!;
      // 127.0.0.5 is higher: its dial is the one kept, on both ends.
      assert.equal(onB.direction, Direction.OUTBOUND, `round ${round}`);
      assert.equal(onA.direction, Direction.INBOUND, `round ${round}`);
      assert.equal(onA.remotePort, onB.localPort);
      // Both stay up across ping intervals.
      let pongs = 0;
      onA.events.on("pong", () => pongs++);
      await waitFor(() => pongs >= 3, { message: "pongs after resolution" });
      assert.equal(a.gateway.manager.get(b.ip), onA);
      assert.equal(b.gateway.manager.get(a.ip), onB);
      // Reset for the next round.
      const gone = nextEvent(b.gateway.events, "disconnected");
      a.gateway.manager.disconnect(b.ip, DisconnectReason.OPERATOR, "next round");
      await gone;
      await waitFor(() => a.gateway.manager.socketCount() === 0 && b.gateway.manager.socketCount() === 0, { message: "sockets closed" });
    }
    const resolved = (await metricValue(a.gateway, "timenet_gateway_duplicates_resolved_total")) + (await metricValue(b.gateway, "timenet_gateway_duplicates_resolved_total"));
    assert.ok(resolved >= 3, `duplicates resolved: ${resolved}`);
    // Nobody closed a duplicate because of an unexplained close: every duplicate close is labelled.
    assert.equal(await metricValue(a.gateway, "timenet_gateway_disconnects_total", { reason: "peer_closed" }), 0);
    assert.equal(await metricValue(b.gateway, "timenet_gateway_disconnects_total", { reason: "peer_closed" }), 0);
  });

  test("an event-loop stall is not blamed on the peer, and missed ping ticks are not sent as a burst", async () => {
    const pingIntervalMs = 100;
    const a = await node(13, { pingIntervalMs });
    const b = await node(14, { pingIntervalMs });
    await dialVia(b, a);
    await waitConnected(a, b);
    const onA = a.gateway.manager.get(b.ip)!;
    let pongs = 0;
    onA.events.on("pong", () => pongs++);
    await waitFor(() => pongs >= 2, { message: "pongs before the stall" });
    const pingsBefore = await metricValue(a.gateway, "timenet_gateway_pings_sent_total");
    // Block this process's event loop for ten ping intervals (both gateways stall).
    const until = Date.now() + 10 * pingIntervalMs;
    while (Date.now() < until) {
      /* busy */
    }
    // The first tick after the stall sends one ping, not ten.
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_pings_sent_total")) > pingsBefore, { message: "a ping after the stall" });
    assert.ok((await metricValue(a.gateway, "timenet_gateway_pings_sent_total")) - pingsBefore <= 2);
    const pongsAfterStall = pongs;
    await waitFor(() => pongs >= pongsAfterStall + 3, { message: "pongs after the stall" });
    assert.equal(a.gateway.manager.get(b.ip), onA, "same connection");
    assert.equal(await metricValue(a.gateway, "timenet_gateway_disconnects_total"), 0);
    assert.equal(await metricValue(b.gateway, "timenet_gateway_disconnects_total"), 0);
  });

  test("a connection to itself is dropped without penalty, reported, and never dialled again", async () => {
    // The registry asks us to dial our own address: the Hello carries our own node id.
    const a = await node(12);
    const failed = record(a.bus, Subjects.dialFailed, DialFailedSchema);
    await dialVia(a, a);
    await waitFor(() => a.gateway.manager.selfIps.has(a.ip), { message: "self address remembered" });
    await waitFor(() => failed.length === 1, { message: "dial_failed reported" });
    assert.equal(failed[0]!.reason, DisconnectReason.SELF_CONNECTION);
    // Asked again, the gateway refuses without a socket and says why.
    await dialVia(a, a);
    await waitFor(() => failed.length === 2, { message: "second dial_failed" });
    assert.equal(await metricValue(a.gateway, "timenet_gateway_dial_requests_total", { result: "self" }), 1);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_dial_attempts_total"), 1);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_offences_total"), 0);
    assert.ok((await metricValue(a.gateway, "timenet_gateway_disconnects_total", { reason: "self_connection" })) >= 1);
    assert.equal(a.gateway.manager.connections().length, 0);
  });

  test("a dial request for a connected or unreachable peer: skipped, or reported as a failed dial", async () => {
    const a = await node(15);
    const b = await node(16);
    const failed = record(b.bus, Subjects.dialFailed, DialFailedSchema);
    await dialVia(b, a);
    await waitConnected(a, b);
    await dialVia(b, a);
    await waitFor(async () => (await metricValue(b.gateway, "timenet_gateway_dial_requests_total", { result: "already_connected" })) === 1, {
      message: "second request skipped",
    });
    // Nobody listens on this port: connection refused, reported with the socket error.
    const closed = await freePort("127.0.0.17");
    b.bus.publish(Subjects.registryDial, DialRequestSchema, { ip: "127.0.0.17", port: closed, reason: "test" });
    await waitFor(() => failed.length === 1, { message: "dial_failed for the closed port" });
    assert.equal(failed[0]!.ip, "127.0.0.17");
    assert.equal(failed[0]!.socketError, "econnrefused");
    assert.equal(b.gateway.manager.socketCount(), 1);
  });
});
