// Strangers each within their own byte budget, together far beyond what the
// node should decrypt: the node-wide budget holds the heavy ones back, on
// real sockets, while an honest gateway, a light sender and an allow-listed
// peer beside them are never held, never blamed, and their messages keep
// arriving; and a held peer we then ask is read again, so its answer is not
// made late by us.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { create } from "@bufbuild/protobuf";
import { BroadcastSchema, EnvelopeSchema, OffenceSchema, PeerMessageSchema, PeerRequestSchema, PeerResponseSchema, Subjects } from "@timenet/proto";
import { waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { attacker, dialVia, metricValue, nodePool, pushPolicy, rawFrame, record, waitConnected } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

const MiB = 1024 * 1024;
const STRANGERS = ["127.0.31.1", "127.0.32.1", "127.0.33.1", "127.0.34.1"];
const LIGHT = "127.0.35.1";
/** Allow-listed by the operator, and as heavy as a stranger: its bytes count, but it is never held. */
const ALLOWED = "127.0.36.1";
/** 12.5 MiB of 64 KiB frames of a kind this protocol does not have, from each stranger: within its own 16 MiB burst. */
const FRAMES_EACH = 200;
const FLOOD_EACH = FRAMES_EACH * 64 * 1024;

test("strangers flooding unasked bytes together are held to the node's budget; an honest gateway, a light sender and an allow-listed peer are never held nor blamed", async () => {
  const B = "127.0.30.2";
  // The strangers' pongs wait behind their own floods: slow pings, so that only the budget is judged.
  const a = await node("127.0.30.1", {
    pingIntervalMs: 10_000,
    namedPeers: [B, LIGHT, ALLOWED],
    rateLimits: { nodeBytes: { count: 2 * MiB, periodMs: 1_000, burst: 2 * MiB } },
  });
  await pushPolicy(a, { maxPerSubnet: 4, maxInbound: 50, subnetPrefixV4: 24, allowList: [ALLOWED] });
  const b = await node(B);
  await dialVia(b, a);
  await waitConnected(a, b);
  const honestConnId = a.gateway.manager.get(b.ip)!.connId;
  const offences = record(a.bus, Subjects.offence, OffenceSchema);
  const announced = record(a.bus, Subjects.peerIn("new_block"), PeerMessageSchema);
  const txs = record(a.bus, Subjects.peerIn("tx"), PeerMessageSchema);
  const light = await attacker(a, LIGHT);
  const strangers = await Promise.all(STRANGERS.map((ip) => attacker(a, ip)));
  const allowed = await attacker(a, ALLOWED);

  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const started = Date.now();
  const frame = rawFrame(30, Buffer.alloc(64 * 1024 - 8));
  for (const s of [...strangers, allowed]) for (let i = 0; i < FRAMES_EACH; i++) s.send(frame);
  // Beside the flood, for a second: b announces a block and the light sender sends a 1 KiB transaction every 50 ms.
  const SENDS = 20;
  for (let i = 1; i <= SENDS; i++) {
    b.bus.publish(Subjects.peerOutBroadcast, BroadcastSchema, { envelope: { payload: { case: "newBlock", value: { height: 1_000 + i, hash: randomBytes(32) } } } });
    light.send(create(EnvelopeSchema, { payload: { case: "tx", value: { data: randomBytes(1024) } } }));
    await new Promise<void>((r) => setTimeout(r, 50));
  }
  const fromB = () => announced.filter((m) => m.peerIp === B).length;
  await waitFor(() => fromB() === SENDS && txs.length === SENDS, { timeoutMs: 10_000, message: "every honest announcement and light transaction arrived during the flood" });
  await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_read_pauses_total", { budget: "node" })) >= 4, { message: "the strangers held" });
  // The allow-listed peer's 12.5 MiB are all read (its own budget's burst is 16 MiB), and spend the node's budget.
  const bytesIn = (ip: string) => a.gateway.manager.get(ip as PeerIp)?.traffic.bytesIn ?? 0;
  await waitFor(() => bytesIn(ALLOWED) >= FLOOD_EACH, { message: "the allow-listed peer's flood read" });
  const elapsedS = (Date.now() - started) / 1000;
  loop.disable();
  const read = STRANGERS.reduce((sum, ip) => sum + bytesIn(ip), 0);
  // Their own budgets would let all 50 MiB in at once (each 12.5 MiB is within its 16 MiB burst). The node's: a
  // 2 MiB burst and 2 MiB/s, plus what each stranger's last read brings in before its hold.
  assert.ok(read <= (2 + 2 * elapsedS + 2) * MiB, `${(read / MiB).toFixed(1)} MiB of the strangers' frames read in ${elapsedS.toFixed(1)} s`);
  assert.ok(read < (STRANGERS.length * FLOOD_EACH) / 2, "the strangers' floods were mostly not read");
  for (const ip of [B, LIGHT, ALLOWED]) assert.equal(await metricValue(a.gateway, "timenet_gateway_read_pauses_total", { peer: ip }), 0, `${ip} was never held`);
  assert.equal(a.gateway.manager.get(b.ip)?.connId, honestConnId, "the honest link stayed");
  assert.ok([LIGHT, ALLOWED].every((ip) => a.gateway.manager.isConnected(ip as PeerIp)), "the light sender and the allow-listed peer stayed");
  assert.ok(STRANGERS.every((ip) => a.gateway.manager.isConnected(ip as PeerIp)), "holding is not closing: the strangers broke no rule of their own");
  await a.bus.flush();
  assert.deepEqual(offences.map((o) => o.ip), [], "nobody blamed for the node's capacity");
  assert.ok(loop.max / 1e6 < 200, `event-loop delay peaked at ${(loop.max / 1e6).toFixed(0)} ms`);
  for (const s of [light, allowed, ...strangers]) s.close();
});

test("a peer whose answer we wait for is not held, however heavy: its answer is not made late by our budget", async () => {
  const HEAVY = "127.0.41.1";
  const a = await node("127.0.40.1", { pingIntervalMs: 10_000, namedPeers: [HEAVY], rateLimits: { nodeBytes: { count: MiB, periodMs: 1_000, burst: MiB } } });
  const heavy = await attacker(a, HEAVY);
  const others = await Promise.all(["127.0.42.1", "127.0.43.1"].map((ip) => attacker(a, ip)));
  const frame = rawFrame(30, Buffer.alloc(64 * 1024 - 8));
  // 6.25 MiB from the heavy peer, 12.5 MiB from each of the others: at its share of 1 MiB/s, about twenty seconds.
  for (let i = 0; i < FRAMES_EACH / 2; i++) heavy.send(frame);
  for (const s of others) for (let i = 0; i < FRAMES_EACH; i++) s.send(frame);
  await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_read_pauses_total", { budget: "node", peer: HEAVY })) >= 1, { message: "the heavy peer held" });
  // Now we ask it (as chain-sync would); it answers behind the rest of its flood.
  const asked = a.bus.request(
    Subjects.peerRequest,
    PeerRequestSchema,
    { peerIp: HEAVY, envelope: { payload: { case: "getBlocks", value: { fromHeight: 1, count: 2 } } }, timeoutMs: 3_000 },
    PeerResponseSchema,
    { timeoutMs: 10_000 },
  );
  const q = await heavy.next((e) => e.payload.case === "getBlocks");
  heavy.send(create(EnvelopeSchema, { requestId: q!.requestId, payload: { case: "blocks", value: { blocks: [] } } }));
  const res = await asked;
  assert.equal(res.result.case, "envelope", `answered in time, not ${JSON.stringify(res.result.value)}`);
  const bytesIn = (ip: string) => a.gateway.manager.get(ip as PeerIp)?.traffic.bytesIn ?? 0;
  assert.ok(bytesIn(HEAVY) >= (FRAMES_EACH / 2) * 64 * 1024, "its whole flood was read to reach the answer");
  for (const s of [heavy, ...others]) s.close();
});
