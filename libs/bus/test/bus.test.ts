import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { PeerMessageSchema, PeerRequestSchema, PeerResponseSchema, type PeerMessage } from "@timenet/proto";
import { startNatsServer, waitFor, type NatsServerHandle } from "@timenet/testkit";
import { Bus, BusError } from "../src/index.js";

let nats: NatsServerHandle;
const buses: Bus[] = [];
async function bus(extra: Partial<Parameters<typeof Bus.connect>[0]> = {}): Promise<Bus> {
  const b = await Bus.connect({ servers: nats.url, name: "test", ...extra });
  buses.push(b);
  return b;
}
before(async () => {
  nats = await startNatsServer();
});
after(async () => {
  for (const b of buses) await b.close();
  await nats.stop();
});

test("publish/subscribe round trip of a nested protobuf message", async () => {
  const a = await bus();
  const got: PeerMessage[] = [];
  a.subscribe("t.rt", PeerMessageSchema, (m) => {
    got.push(m);
  });
  await a.flush();
  const ok = a.publish("t.rt", PeerMessageSchema, {
    peerIp: "127.0.0.2",
    connId: 7,
    envelope: { requestId: 3, payload: { case: "ping", value: { nonce: 99n } } },
  });
  assert.equal(ok, true);
  await waitFor(() => got.length === 1, { message: "message delivered" });
  assert.equal(got[0]!.peerIp, "127.0.0.2");
  assert.equal(got[0]!.envelope!.payload.case, "ping");
  assert.equal((got[0]!.envelope!.payload.value as { nonce: bigint }).nonce, 99n);
});

test("a queue group delivers each message to one subscriber", async () => {
  const a = await bus();
  let n1 = 0;
  let n2 = 0;
  a.subscribe("t.q", PeerMessageSchema, () => void n1++, { queue: "workers" });
  a.subscribe("t.q", PeerMessageSchema, () => void n2++, { queue: "workers" });
  await a.flush();
  for (let i = 0; i < 50; i++) a.publish("t.q", PeerMessageSchema, { peerIp: String(i) });
  await waitFor(() => n1 + n2 === 50, { message: "all delivered" });
  await a.flush();
  assert.equal(n1 + n2, 50);
});

test("request/reply, no responders, and timeout", async () => {
  const a = await bus();
  a.subscribe("t.req", PeerRequestSchema, (m, ctx) => {
    ctx.respond(PeerResponseSchema, { result: { case: "error", value: { code: 1, message: m.peerIp } } });
  });
  a.subscribe("t.silent", PeerRequestSchema, () => undefined);
  await a.flush();
  const res = await a.request("t.req", PeerRequestSchema, { peerIp: "10.0.0.1" }, PeerResponseSchema);
  assert.equal(res.result.case, "error");
  assert.equal((res.result.value as { message: string }).message, "10.0.0.1");
  await assert.rejects(a.request("t.nobody", PeerRequestSchema, {}, PeerResponseSchema), (e: unknown) => e instanceof BusError && e.code === "ERR_BUS_NO_RESPONDERS");
  await assert.rejects(a.request("t.silent", PeerRequestSchema, {}, PeerResponseSchema, { timeoutMs: 100 }), (e: unknown) => e instanceof BusError && e.code === "ERR_BUS_TIMEOUT");
});

test("encoded messages: a raw subscriber answers with bytes, a raw asker gets the reply's bytes as sent", async () => {
  const a = await bus();
  // A reply spliced by hand (PeerResponse.error = field 2 around PeerRequestError{code 2}): no encoder is involved on either side.
  const spliced = Uint8Array.of(0x12, 0x02, 0x08, 0x02);
  const seen: Uint8Array[] = [];
  a.subscribeEncoded("t.raw", (bytes, ctx) => {
    seen.push(bytes);
    ctx.respondEncoded(spliced);
  });
  await a.flush();
  const b = await bus();
  const raw = await b.requestEncoded("t.raw", PeerRequestSchema, { peerIp: "127.0.0.5" });
  assert.deepEqual(new Uint8Array(raw), spliced);
  assert.equal(fromBinary(PeerRequestSchema, seen[0]!).peerIp, "127.0.0.5");
  const decoded = await b.request("t.raw", PeerRequestSchema, { peerIp: "127.0.0.6" }, PeerResponseSchema);
  assert.equal(decoded.result.case, "error");
  assert.equal(decoded.result.value?.code, 2);
  await assert.rejects(b.requestEncoded("t.nobody", PeerRequestSchema, {}), (e: unknown) => e instanceof BusError && e.code === "ERR_BUS_NO_RESPONDERS");
});

test("undecodable messages and throwing handlers are reported, and the subscription keeps going", async () => {
  const decodeErrors: string[] = [];
  const handlerErrors: string[] = [];
  const a = await bus({ onDecodeError: (s) => decodeErrors.push(s), onHandlerError: (s) => handlerErrors.push(s) });
  const got: string[] = [];
  a.subscribe("t.bad", PeerMessageSchema, (m) => {
    if (m.peerIp === "throw") throw new Error("boom");
    got.push(m.peerIp);
  });
  await a.flush();
  a.connection.publish("t.bad", new Uint8Array([0xff, 0xff, 0xff]));
  a.publish("t.bad", PeerMessageSchema, { peerIp: "throw" });
  a.publish("t.bad", PeerMessageSchema, { peerIp: "good" });
  await waitFor(() => got.length === 1, { message: "good message after bad ones" });
  assert.deepEqual(got, ["good"]);
  assert.deepEqual(decodeErrors, ["t.bad"]);
  assert.deepEqual(handlerErrors, ["t.bad"]);
});

test("connecting to nothing is a clear ERR_BUS_CONNECT", async () => {
  await assert.rejects(Bus.connect({ servers: "nats://127.0.0.1:1", name: "x", maxReconnectAttempts: 0 }), (e: unknown) => {
    assert.ok(e instanceof BusError);
    assert.equal(e.code, "ERR_BUS_CONNECT");
    assert.match(e.message, /127\.0\.0\.1:1/);
    return true;
  });
});

test("user/password auth: accepted with them, refused clearly without", async () => {
  const secured = await startNatsServer({ user: "timenet", pass: "s3cret" });
  try {
    const ok = await Bus.connect({ servers: secured.url, name: "auth", user: "timenet", pass: "s3cret" });
    await ok.close();
    await assert.rejects(Bus.connect({ servers: secured.url, name: "anon", maxReconnectAttempts: 0 }), (e: unknown) => e instanceof BusError && e.code === "ERR_BUS_CONNECT");
  } finally {
    await secured.stop();
  }
});

test("publishing after close reports and returns false instead of throwing", async () => {
  const errors: string[] = [];
  const a = await Bus.connect({ servers: nats.url, name: "closed", onPublishError: (s) => errors.push(s) });
  await a.close();
  assert.equal(a.publish("t.x", PeerMessageSchema, {}), false);
  assert.deepEqual(errors, ["t.x"]);
  assert.equal(a.connected, false);
});
