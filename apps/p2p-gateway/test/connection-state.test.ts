// The gateway's connection set as published state, through a NATS that stalls.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { PeerIp } from "@timenet/net-address";
import { create } from "@bufbuild/protobuf";
import { DisconnectReason, EnvelopeSchema } from "@timenet/proto";
import { startTcpRelay, waitFor } from "@timenet/testkit";
import { connectionStates, dialVia, metricValue, nodePool, ScriptedPeer, waitConnected } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

test("a NATS stall: state writes wait and are retried in order, so a watcher still sees the connection and its end with the reason", async () => {
  const a = await node(120);
  const b = await node(121);
  // a's gateway reaches its NATS through a relay the test can stall; the watcher reads NATS directly.
  const relay = await startTcpRelay({ target: { host: "127.0.0.1", port: a.nats.port } });
  await a.stopGateway();
  await a.restartGateway({ natsUrl: `nats://127.0.0.1:${relay.port}` });
  const states = await connectionStates(a);

  relay.pause();
  await dialVia(b, a);
  await waitConnected(a, b);
  const conn = a.gateway.manager.get(b.ip)!;
  a.gateway.manager.disconnect(b.ip, DisconnectReason.OPERATOR, "test");
  await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_state_writes_total", { result: "error" })) >= 1, {
    timeoutMs: 20_000,
    message: "a write failed while NATS was stalled",
  });
  assert.equal(states.established.length + states.ended.length, 0, "nothing reached NATS during the stall");
  assert.ok((await metricValue(a.gateway, "timenet_gateway_state_queue")) >= 1);

  relay.resume();
  await waitFor(() => states.ended.some((s) => s.connId === conn.connId), { timeoutMs: 20_000, message: "the end arrived" });
  const established = states.established.filter((s) => s.connId === conn.connId);
  assert.ok(established.length >= 1, "the connection itself arrived too");
  const end = states.ended.find((s) => s.connId === conn.connId)!;
  assert.equal(end.ended!.reason, DisconnectReason.OPERATOR);
  assert.equal(end.ip, b.ip);
  await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_state_queue")) === 0, { message: "queue drained" });
  await relay.stop();
});

test("a peer's higher announcements reach its connection's entry at most about once a second, however fast it announces; lower ones never", async () => {
  const a = await node(122);
  const states = await connectionStates(a);
  const p = await ScriptedPeer.dial(a.endpoint, "127.0.0.123");
  await p.handshake();
  p.answerPings();
  await waitFor(() => states.established.length === 1, { message: "the connection's entry" });
  const connId = states.established[0]!.connId;
  assert.equal(states.established[0]!.announcedHeight, 0, "nothing announced yet");
  const hashOf = (height: number, salt = "") => createHash("sha256").update(`block ${height}${salt}`).digest();
  const announce = (height: number, hash: Uint8Array) => p.send(create(EnvelopeSchema, { payload: { case: "newBlock", value: { height, hash } } }));

  // A liar announcing ever higher blocks as fast as the gossip limit lets it (500 within its burst).
  const started = Date.now();
  for (let h = 1; h <= 500; h++) announce(h, hashOf(h));
  await waitFor(() => states.established.at(-1)?.announcedHeight === 500, { timeoutMs: 10_000, message: "the highest announcement written" });
  const tookMs = Date.now() - started;
  const writes = states.established.filter((s) => s.announcedHeight > 0);
  assert.ok(writes.length <= Math.ceil(tookMs / 1_000) + 1, `${writes.length} writes for 500 announcements in ${tookMs} ms`);
  const last = states.established.at(-1)!;
  assert.deepEqual(Buffer.from(last.announcedHash), hashOf(500));
  assert.equal(last.connId, connId, "the same connection's entry");
  assert.equal(last.hello?.bestHeight, 0, "the Hello's claim is kept as it was");

  // A lower block (another hash, not a duplicate) changes nothing; the next higher one is written, and only it.
  const before = states.established.length;
  announce(300, hashOf(300, "other"));
  announce(501, hashOf(501));
  await waitFor(() => states.established.at(-1)?.announcedHeight === 501, { timeoutMs: 5_000, message: "501 written" });
  assert.deepEqual(
    states.established.slice(before).map((s) => s.announcedHeight),
    [501],
  );
  // Announcing is no offence: the peer is still connected.
  assert.equal(a.gateway.manager.get("127.0.0.123" as PeerIp)?.state, "established");
  assert.equal(await metricValue(a.gateway, "timenet_gateway_offences_total"), 0);
  p.close();
});
