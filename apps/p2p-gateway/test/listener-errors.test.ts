import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { EnvelopeSchema, OffenceSchema, PeerMessageSchema, Subjects } from "@timenet/proto";
import { createLogger } from "@timenet/telemetry";
import { tempDir, waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { metricValue, nodePool, record, ScriptedPeer } from "./harness.js";

const { node, stopAll } = nodePool();
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  await stopAll();
  for (const c of cleanups) await c();
});

describe("event listeners", () => {
  test("a listener that throws on a peer's message cannot take the gateway down or close the connection", async () => {
    const dir = await tempDir("gw-listener-");
    cleanups.push(dir.remove);
    const logFile = join(dir.path, "gateway.log");
    const logger = createLogger({ service: "p2p-gateway", node: "n80", level: "error", pretty: false, destination: logFile });
    const a = await node(80, { logger });
    const peerIp = "127.0.0.81" as PeerIp;
    const published = record(a.bus, Subjects.peerIn("tx"), PeerMessageSchema);
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    await a.bus.flush();
    // A bug in some consumer of the gateway's events: it throws on every message.
    let thrown = 0;
    a.gateway.events.on("message", () => {
      thrown++;
      throw new Error("listener bug");
    });

    const p = await ScriptedPeer.dial(a.endpoint, peerIp);
    await p.handshake();
    p.answerPings();
    await waitFor(() => a.gateway.manager.isConnected(peerIp), { message: "established" });
    const conn = a.gateway.manager.get(peerIp)!;
    // The same on the connection's own events, emitted from the heartbeat.
    let pongListenerRan = 0;
    conn.events.on("pong", () => {
      pongListenerRan++;
      throw new Error("pong listener bug");
    });
    for (let i = 1; i <= 3; i++) p.send(create(EnvelopeSchema, { payload: { case: "tx", value: { data: new Uint8Array([i]) } } }));
    // Right behind the messages, on the same socket: the gateway still answers a ping.
    p.send(create(EnvelopeSchema, { payload: { case: "ping", value: { nonce: 4242n } } }));
    const pong = await p.next((e) => e.payload.case === "pong" && e.payload.value.nonce === 4242n);
    assert.ok(pong, "the ping after the throwing listeners was answered");
    assert.equal(thrown, 3);
    // Our pings go on and the peer's pongs are still taken.
    await waitFor(() => pongListenerRan >= 3, { message: "pongs after the throwing pong listener" });

    // The other listeners still ran: every message reached the bus.
    await waitFor(() => published.length === 3, { message: "three messages published" });
    assert.equal(await metricValue(a.gateway, "timenet_gateway_listener_errors_total", { event: "message" }), 3);
    assert.ok((await metricValue(a.gateway, "timenet_gateway_listener_errors_total", { event: "pong" })) >= 3);
    // Same connection, still established; the peer is not blamed for our bug.
    assert.equal(a.gateway.manager.get(peerIp), conn);
    assert.equal(conn.state, "established");
    assert.equal(p.closed, false);
    await a.bus.flush();
    assert.equal(offences.length, 0);

    // Each error is logged with the peer it concerned.
    await new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve())));
    const lines = (await readFile(logFile, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const logged = lines.filter((l) => l.msg === "an event listener threw; the other listeners still ran");
    assert.deepEqual(logged.filter((l) => l.event === "message").map((l) => [l.peer_ip, (l.err as { message: string }).message]), [
      [peerIp, "listener bug"],
      [peerIp, "listener bug"],
      [peerIp, "listener bug"],
    ]);
    assert.ok(logged.some((l) => l.event === "pong" && l.peer_ip === peerIp));
    p.close();
  });
});
