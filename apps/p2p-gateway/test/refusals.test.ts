import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { DisconnectReason, EnvelopeSchema, HelloSchema, type Envelope, OffenceKind, OffenceSchema, SendToPeerSchema, Subjects } from "@timenet/proto";
import { waitFor } from "@timenet/testkit";
import type { PeerEndpoint, PeerIp } from "@timenet/net-address";
import { connect, type Socket } from "node:net";
import type { CloseInfo, PeerConnection } from "../src/peer-connection.js";
import { connectionStates, dialVia, metricValue, record, ScriptedPeer, silentListener, nodePool, type TestNode } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

/** A TCP socket that says nothing: what it received and whether it closed. */
async function quietSocket(target: PeerEndpoint, localAddress: string): Promise<{ socket: Socket; bytesIn: number; closed: boolean }> {
  const socket = connect({ host: target.ip, port: target.port, localAddress });
  const s = { socket, bytesIn: 0, closed: false };
  socket.on("data", (b: Buffer) => (s.bytesIn += b.length));
  socket.on("close", () => (s.closed = true));
  socket.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return s;
}

function closes(n: TestNode): CloseInfo[] {
  const got: CloseInfo[] = [];
  n.gateway.events.on("closing", (_c: PeerConnection, info: CloseInfo) => got.push(info));
  return got;
}

describe("refusals and liveness", () => {
  test("a wrong-genesis node is refused with its reason and reported as an offence", async () => {
    const a = await node(20);
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    const connected = (await connectionStates(a)).established;
    const aCloses = closes(a);
    const other = await node(21, { genesisHash: new Uint8Array(32).fill(7) });
    await dialVia(other, a);
    const otherCloses = closes(other);
    await waitFor(() => offences.length >= 1, { message: "offence published" });
    assert.equal(offences[0]!.ip, "127.0.0.21");
    assert.equal(offences[0]!.kind, OffenceKind.WRONG_GENESIS);
    assert.equal(aCloses[0]!.reason, DisconnectReason.WRONG_GENESIS);
    // The other side was told why (Goodbye), or found it out itself: never an unexplained close.
    await waitFor(() => otherCloses.length >= 1, { message: "other side closed" });
    assert.equal(otherCloses[0]!.reason, DisconnectReason.WRONG_GENESIS);
    assert.ok((await metricValue(a.gateway, "timenet_gateway_handshake_failures_total", { reason: "wrong_genesis" })) >= 1);
    assert.equal(connected.length, 0);
    assert.equal(a.gateway.manager.connections().length, 0);
  });

  test("a wrong network and a forged signature are refused", async () => {
    const a = await node(22);
    const aCloses = closes(a);
    const wrongNet = await ScriptedPeer.dial(a.endpoint, "127.0.0.23", ScriptedPeer.identity({ network: "mainnet" }));
    await assert.rejects(wrongNet.handshake());
    await wrongNet.waitClosed();
    assert.equal(wrongNet.goodbyeReason(), DisconnectReason.WRONG_NETWORK);

    // A Hello whose signature does not match its node id.
    const forger = await ScriptedPeer.dial(a.endpoint, "127.0.0.24", ScriptedPeer.identity(), {
      hello: (peer, binding) => toBinary(HelloSchema, { ...peer.hello(binding), bestHeight: 999_999 }), // changed after signing
    });
    await forger.waitClosed();
    await waitFor(() => aCloses.some((c) => c.reason === DisconnectReason.BAD_SIGNATURE), { message: "bad signature close" });
    assert.equal(forger.goodbyeReason(), DisconnectReason.BAD_SIGNATURE);
  });

  test("the Hellos ride in the Noise handshake: a Hello or HelloAck sent as a frame is a protocol error", async () => {
    const a = await node(25);
    const frames: Envelope[] = [
      create(EnvelopeSchema, { payload: { case: "hello", value: { protocolVersion: 3 } } }),
      create(EnvelopeSchema, { payload: { case: "helloAck", value: { signature: new Uint8Array(64) } } }),
    ];
    for (const [i, frame] of frames.entries()) {
      const p = await ScriptedPeer.dial(a.endpoint, `127.0.7.${26 + i}`);
      await p.handshake();
      p.answerPings();
      p.send(frame);
      await p.waitClosed();
      assert.equal(p.goodbyeReason(), DisconnectReason.PROTOCOL_ERROR, `${frame.payload.case}: protocol error`);
      await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_disconnects_total", { reason: "protocol_error" })) === i + 1, { message: `${frame.payload.case}: counted` });
    }
    // Neither was a failed handshake: both connections were established first.
    assert.equal(await metricValue(a.gateway, "timenet_gateway_handshake_failures_total", { reason: "protocol_error" }), 0);
  });

  test("an oversized frame length closes at once with FRAME_TOO_LARGE; garbage with BAD_FRAME", async () => {
    const a = await node(27, { maxFrameBytes: 64 * 1024 });
    const big = await ScriptedPeer.dial(a.endpoint, "127.0.0.28");
    await big.handshake();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(64 * 1024 + 1);
    big.send(header); // only the header: the gateway must not wait for the body
    await big.waitClosed();
    assert.equal(big.goodbyeReason(), DisconnectReason.FRAME_TOO_LARGE);

    const junk = await ScriptedPeer.dial(a.endpoint, "127.0.0.29");
    junk.send(Buffer.from([0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]));
    await junk.waitClosed();
    assert.equal(junk.goodbyeReason(), DisconnectReason.BAD_FRAME);
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_offences_total")) === 2, { message: "two offences" });
  });

  test("one IP cannot hold more than a few sockets: the rest are refused at accept", async () => {
    const a = await node(38, { maxSocketsPerIp: 2 });
    // Sockets that never start the handshake (a scripted peer's would complete it, and one of two would be a duplicate).
    const socks = await Promise.all([0, 1, 2, 3].map(() => quietSocket(a.endpoint, "127.0.0.39")));
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_accept_refused_total", { reason: "too_many_connections" })) === 2, {
      message: "two refused",
    });
    await waitFor(() => socks.filter((s) => s.closed).length === 2, { message: "two closed" });
    // Refused before any handshake byte (the accepted two got the gateway's preamble).
    for (const s of socks) assert.equal(s.bytesIn === 0, s.closed);
    assert.equal(a.gateway.manager.socketCount("127.0.0.39"), 2);
    socks.forEach((s) => s.socket.destroy());
  });

  test("a malformed NewBlock announcement is a protocol error, not a cache entry", async () => {
    const a = await node(44);
    const p = await ScriptedPeer.dial(a.endpoint, "127.0.0.45");
    await p.handshake();
    p.send(create(EnvelopeSchema, { payload: { case: "newBlock", value: { height: 1, hash: new Uint8Array(3) } } }));
    await p.waitClosed();
    assert.equal(p.goodbyeReason(), DisconnectReason.PROTOCOL_ERROR);
  });

  test("a silent listener (accepts TCP, never answers) is dropped at the handshake timeout", async () => {
    const silent = await silentListener("127.0.0.31");
    try {
      const a = await node(30, { handshakeTimeoutMs: 300 });
      const aCloses = closes(a);
      const started = Date.now();
      await a.gateway.manager.dial({ ip: "127.0.0.31" as PeerIp, port: silent.port });
      await waitFor(() => aCloses.length === 1, { message: "handshake timeout" });
      assert.equal(aCloses[0]!.reason, DisconnectReason.HANDSHAKE_TIMEOUT);
      assert.ok(Date.now() - started >= 300);
    } finally {
      silent.sockets.forEach((s) => s.destroy());
      silent.server.close();
    }
  });

  test("a peer that goes silent after the handshake is dropped after MISSED_PONGS ping intervals", async () => {
    const pingIntervalMs = 150;
    const missedPongs = 3;
    const a = await node(32, { pingIntervalMs, missedPongs });
    const aCloses = closes(a);
    const p = await ScriptedPeer.dial(a.endpoint, "127.0.0.33");
    await p.handshake();
    await waitFor(() => a.gateway.manager.isConnected("127.0.0.33" as PeerIp), { message: "established" });
    // The gateway's own timestamp: the test's polling sees the handshake late.
    const established = a.gateway.manager.get("127.0.0.33" as PeerIp)!.establishedAt;
    // The scripted peer never answers a ping.
    await waitFor(() => aCloses.length === 1, { timeoutMs: 5_000, message: "ping timeout" });
    const elapsed = Date.now() - established;
    assert.equal(aCloses[0]!.reason, DisconnectReason.PING_TIMEOUT);
    // Timers may fire a millisecond early; the rule is "after MISSED_PONGS intervals", not before.
    assert.ok(elapsed >= missedPongs * pingIntervalMs - 5, `closed after ${elapsed}ms`);
    assert.ok(elapsed < (missedPongs + 3) * pingIntervalMs, `closed after ${elapsed}ms`);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_pongs_missed_total"), missedPongs);
    const pings = p.frames.filter((e) => e.payload.case === "ping").length;
    assert.equal(pings, missedPongs, "one ping per interval, no burst");
    await p.waitClosed();
    assert.equal(p.goodbyeReason(), DisconnectReason.PING_TIMEOUT);
  });

  test("a peer that answers pings stays, however long", async () => {
    const a = await node(34, { pingIntervalMs: 50 });
    const aCloses = closes(a);
    const p = await ScriptedPeer.dial(a.endpoint, "127.0.0.35");
    await p.handshake();
    let answered = 0;
    p.socket.on("data", () => {
      for (const e of p.frames.splice(0)) {
        if (e.payload.case === "ping") {
          p.send(create(EnvelopeSchema, { payload: { case: "pong", value: { nonce: e.payload.value.nonce } } }));
          answered++;
        }
      }
    });
    await waitFor(() => answered >= 20, { message: "20 pings answered" });
    assert.equal(aCloses.length, 0);
    assert.ok(a.gateway.manager.get("127.0.0.35" as PeerIp)!.lastRttMs > 0);
  });

  test("a peer that stops reading is cut off when its send queue overflows, without blocking others", async () => {
    const a = await node(36, { maxSendQueueBytes: 256 * 1024, pingIntervalMs: 60_000 });
    const aCloses = closes(a);
    const slow = await ScriptedPeer.dial(a.endpoint, "127.0.0.37");
    await slow.handshake();
    await waitFor(() => a.gateway.manager.isConnected("127.0.0.37" as PeerIp), { message: "established" });
    slow.socket.pause(); // stops reading: the kernel buffers fill, then ours
    const tx = new Uint8Array(60 * 1024);
    for (let i = 0; i < 400 && aCloses.length === 0; i++) {
      tx[0] = i & 0xff;
      tx[1] = i >> 8;
      a.bus.publish(Subjects.peerOutSend, SendToPeerSchema, {
        peerIp: "127.0.0.37",
        envelope: { payload: { case: "tx", value: { data: tx } } },
      });
      if (i % 20 === 0) await a.bus.flush();
    }
    await waitFor(() => aCloses.length === 1, { timeoutMs: 10_000, message: "send queue overflow" });
    assert.equal(aCloses[0]!.reason, DisconnectReason.SEND_QUEUE_FULL);
    slow.close();
  });
});
