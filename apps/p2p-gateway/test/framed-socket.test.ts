import { after, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import { DisconnectReason, EnvelopeSchema, type Envelope } from "@timenet/proto";
import { encodeFrame } from "@timenet/wire";
import { FramedSocket } from "../src/framed-socket.js";
import { createChannelIdentity } from "../src/channel-identity.js";
import { NodeKey } from "@timenet/node-key";
import { DEVNET_GENESIS_HASH } from "@timenet/chain";
import { ScriptedPeer } from "./harness.js";
import { GatewayMetrics } from "../src/metrics.js";

const server = createServer();
const sockets: Socket[] = [];
after(() => {
  sockets.forEach((s) => s.destroy());
  server.close();
});

/** What the FramedSocket told its handler, in order, with a way to await the next of a kind. */
class Recorder {
  readonly frames: Envelope[] = [];
  readonly calls: string[] = [];
  /** Runs inside the frame callback, as the connection's dispatch does. */
  onFrame: () => void = () => undefined;
  private waiters: Array<{ match: (call: string) => boolean; resolve: () => void }> = [];

  record(call: string, envelope?: Envelope): void {
    if (envelope) this.frames.push(envelope);
    this.calls.push(call);
    this.waiters = this.waiters.filter((w) => !(w.match(call) && (w.resolve(), true)));
  }

  /** Resolves once a call starting with `prefix` has been recorded `times` times. */
  until(prefix: string, times = 1): Promise<void> {
    const count = () => this.calls.filter((c) => c.startsWith(prefix)).length;
    if (count() >= times) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ match: () => count() >= times, resolve }));
  }
}

/** A real loopback socket pair: ours wrapped in a FramedSocket, theirs driven by the test. */
async function pair(opts: { maxFrameBytes?: number; maxSendQueueBytes?: number; allowHalfOpen?: boolean } = {}) {
  if (!server.listening) await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const theirs = connect({ host: "127.0.0.1", port: (server.address() as { port: number }).port, allowHalfOpen: opts.allowHalfOpen ?? false });
  theirs.on("error", () => undefined);
  const [[raw]] = await Promise.all([accepted, once(theirs, "connect")]);
  sockets.push(raw, theirs);
  const rec = new Recorder();
  const registry = new Registry();
  const ours = new FramedSocket(
    raw,
    {
      // The socket carries whatever the connection gives it as its Hello (the connection checks the peer's).
      helloFor: () => new Uint8Array(0),
      secured: () => rec.record("secured"),
      insecure: (reason, detail) => rec.record(`insecure ${DisconnectReason[reason]}: ${detail}`),
      frame: (envelope, kind) => {
        rec.record(`frame ${kind}`, envelope);
        rec.onFrame();
      },
      forwarded: (_head, kind) => rec.record(`forwarded ${kind}`),
      unreadable: (reason, detail) => rec.record(`unreadable ${DisconnectReason[reason]}: ${detail}`),
      sendQueueFull: (detail) => rec.record(`sendQueueFull: ${detail}`),
      ended: () => rec.record("ended"),
      error: (err) => rec.record(`error ${err.code}`),
      closed: () => rec.record("closed"),
    },
    {
      maxFrameBytes: opts.maxFrameBytes ?? 64 * 1024,
      maxSendQueueBytes: opts.maxSendQueueBytes ?? 1024 * 1024,
      metrics: new GatewayMetrics(registry),
      channel: { role: "responder", identity: createChannelIdentity(NodeKey.generate(), "devnet", DEVNET_GENESIS_HASH) },
      // Every frame read (the connection's frame policy is tested on its own).
      admission: () => ({ action: "decode" }),
      skipBudget: { count: 1 << 20, periodMs: 1_000, burst: 1 << 24 },
      peerLabel: "other",
    },
  );
  ours.start();
  // Their end speaks the channel for real; the test decides what goes inside it, or around it.
  const peer = new ScriptedPeer(theirs, ScriptedPeer.identity());
  await peer.secured();
  await rec.until("secured");
  rec.calls.length = 0;
  return { ours, theirs, peer, rec, registry };
}

const tx = (n: number, size = 1) => create(EnvelopeSchema, { payload: { case: "tx", value: { data: new Uint8Array(size).fill(n) } } });
const txByte = (e: Envelope) => (e.payload.value as { data: Uint8Array }).data[0];

test("frames arrive whole whatever the chunking of the sealed stream and of the frames in it, and are counted both ways", async () => {
  const { ours, theirs, peer, rec, registry } = await pair();
  const bytes = Buffer.concat([1, 2, 3].map((n) => encodeFrame(tx(n))));
  // The frames split across three transport messages, their bytes sent one at a time.
  const sealed = Buffer.concat([peer.channel.seal(bytes.subarray(0, 3)), peer.channel.seal(bytes.subarray(3, 9)), peer.channel.seal(bytes.subarray(9))]);
  for (const b of sealed) theirs.write(Buffer.from([b]));
  await rec.until("frame", 3);
  assert.deepEqual(rec.frames.map(txByte), [1, 2, 3]);
  assert.deepEqual(rec.calls, ["frame tx", "frame tx", "frame tx"]);
  assert.deepEqual(ours.traffic, { bytesIn: bytes.length, framesIn: 3, bytesOut: 0, framesOut: 0 });

  assert.equal(ours.send(tx(9)), true);
  const echo = await peer.next((e) => e.payload.case === "tx");
  assert.equal(txByte(echo!), 9);
  assert.deepEqual(ours.traffic, { bytesIn: bytes.length, framesIn: 3, bytesOut: encodeFrame(tx(9)).length, framesOut: 1 });
  const frames = await registry.getSingleMetric("timenet_gateway_frames_total")!.get();
  assert.deepEqual(frames.values.map((v) => [v.labels.kind, v.labels.direction, v.value]), [["tx", "in", 3], ["tx", "out", 1]]);
  theirs.destroy();
  await rec.until("closed");
});

test("an oversized length is refused from the header alone, and garbage as a bad frame; nothing is read after either", async () => {
  const big = await pair({ maxFrameBytes: 1024 });
  const header = Buffer.alloc(4);
  header.writeUInt32BE(1025);
  big.peer.send(header); // the body never comes: the header is enough
  await big.rec.until("unreadable");
  big.peer.send(encodeFrame(tx(1)));
  big.theirs.end();
  await big.rec.until("ended");
  assert.deepEqual(big.rec.calls, ["unreadable FRAME_TOO_LARGE: frame of 1025 bytes exceeds the maximum of 1024", "ended"]);

  const junk = await pair();
  junk.peer.send(encodeFrame(tx(1)));
  await junk.rec.until("frame");
  junk.peer.send(Buffer.concat([Buffer.from([0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]), encodeFrame(tx(2))]));
  await junk.rec.until("unreadable");
  junk.peer.send(encodeFrame(tx(3)));
  junk.theirs.end();
  await junk.rec.until("ended");
  assert.deepEqual(junk.rec.frames.map(txByte), [1]);
  assert.match(junk.rec.calls[1]!, /^unreadable BAD_FRAME/);
  big.theirs.destroy();
  junk.theirs.destroy();
});

test("once the connection ends the stream, the rest of the chunk is not delivered; the socket closes within the grace period", async () => {
  // Their end stays open after our FIN, as a peer that never closes would.
  const { ours, theirs, peer, rec } = await pair({ allowHalfOpen: true });
  // The first frame of a chunk ends the connection (as a protocol error would).
  rec.onFrame = () => ours.end(50);
  peer.send(Buffer.concat([1, 2, 3].map((n) => encodeFrame(tx(n)))));
  // Our FIN reached them; they never close their end, so the grace timer destroys ours.
  await once(theirs, "end");
  await rec.until("closed");
  assert.equal(theirs.writableEnded, false, "closed by our grace timer, not by them");
  assert.deepEqual(rec.frames.map(txByte), [1]);
  theirs.destroy();
});

test("a peer that keeps sending after our close is cut off past 64 KiB, not read to the grace period; one that stops is not", async () => {
  const cutShort = async (registry: Registry) => (await registry.getSingleMetric("timenet_gateway_closes_cut_short_total")!.get()).values[0]?.value ?? 0;
  // Both peers keep their end open after our FIN: only our side can end it.
  const quiet = await pair({ allowHalfOpen: true });
  const flood = await pair({ allowHalfOpen: true });
  quiet.ours.end(300);
  flood.ours.end(60_000);
  await Promise.all([once(quiet.theirs, "end"), once(flood.theirs, "end")]);
  // 60 KiB after the close (in flight when an honest peer read our Goodbye): read and dropped, the grace timer ends it.
  quiet.theirs.write(Buffer.alloc(60 * 1024, 1));
  // 8 MiB behind the close, as behind a refused Hello: a minute of grace must not mean reading it all.
  const started = Date.now();
  flood.theirs.write(Buffer.alloc(8 * 1024 * 1024, 2));
  await Promise.all([quiet.rec.until("closed"), flood.rec.until("closed")]);
  assert.ok(Date.now() - started < 10_000, "destroyed long before its 60 s grace period");
  assert.equal(await cutShort(flood.registry), 1);
  assert.equal(await cutShort(quiet.registry), 0, "an honest peer's last bytes are not a reason to cut it short");
  assert.ok(flood.ours.traffic.bytesIn === 0 && flood.rec.frames.length === 0, "nothing after the close is delivered");
  quiet.theirs.destroy();
  flood.theirs.destroy();
});

test("a peer that stops reading is cut off once our write buffer passes the bound", async () => {
  const { ours, theirs, rec } = await pair({ maxSendQueueBytes: 256 * 1024 });
  theirs.pause(); // the kernel buffers fill, then ours
  let sent = 0;
  while (ours.send(tx(sent & 0xff, 16 * 1024))) sent++;
  assert.ok(sent > 0);
  assert.deepEqual(rec.calls, ["sendQueueFull: send queue above 262144 bytes"]);
  // Destroyed at once: no Goodbye can get through a queue the peer does not drain.
  await rec.until("closed");
  assert.equal(ours.send(tx(0)), false);
  assert.equal(ours.writable, false);
  theirs.destroy();
});

test("one flipped bit in a sealed message fails the channel: nothing of it or after it is delivered", async () => {
  const { theirs, peer, rec } = await pair();
  peer.send(encodeFrame(tx(1)));
  await rec.until("frame");
  const sealed = peer.channel.seal(encodeFrame(tx(2)));
  sealed[sealed.length - 1]! ^= 0x01;
  theirs.write(sealed);
  await rec.until("insecure");
  peer.send(encodeFrame(tx(3)));
  theirs.end();
  await rec.until("ended");
  assert.deepEqual(rec.frames.map(txByte), [1]);
  assert.match(rec.calls[1]!, /^insecure AUTHENTICATION_FAILED: transport: message does not authenticate/);
  theirs.destroy();
});
