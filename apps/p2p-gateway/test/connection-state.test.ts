// The gateway's connection set as published state, through a NATS that stalls.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { DisconnectReason } from "@timenet/proto";
import { startTcpRelay, waitFor } from "@timenet/testkit";
import { connectionStates, dialVia, metricValue, nodePool, waitConnected } from "./harness.js";

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
