// npm run bench:gateway [-- --frames N --size BYTES --paced N]
//
// Frames/s and latency from a peer socket through the gateway to a NATS
// subscriber on p2p.in.tx, beside raw NATS publish -> subscribe of the same
// payloads on the same server in the same run (the baseline: the machine is
// shared and noisy, so only the ratio is comparable across runs).
import { parseArgs } from "node:util";
import { once } from "node:events";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema, PeerMessageSchema, Subjects } from "@timenet/proto";
import { Bus } from "@timenet/bus";
import { encodeFrame } from "@timenet/wire";
import { createLogger } from "@timenet/telemetry";
import { NodeKey } from "@timenet/node-key";
import { startNatsServer } from "@timenet/testkit";
import { startGateway } from "../src/gateway.js";
import { ScriptedPeer } from "../test/harness.js";

const { values } = parseArgs({
  options: {
    frames: { type: "string", default: "50000" },
    size: { type: "string", default: "256" },
    paced: { type: "string", default: "2000" },
    rounds: { type: "string", default: "3" },
  },
});
const FRAMES = Number(values.frames);
const SIZE = Number(values.size);
const PACED = Number(values.paced);
const ROUNDS = Number(values.rounds);

interface Result {
  framesPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** Payload: 8-byte sequence + 8-byte send time (ns), padded to SIZE; unique per frame so relay-once dedup does not drop it. */
function payload(seq: number): Uint8Array {
  const b = Buffer.alloc(SIZE);
  b.writeBigUInt64BE(BigInt(seq), 0);
  b.writeBigUInt64BE(process.hrtime.bigint(), 8);
  return b;
}

function sentAt(data: Uint8Array): bigint {
  return Buffer.from(data.buffer, data.byteOffset, data.length).readBigUInt64BE(8);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Runs one measurement: `send(data)` puts a payload into the pipeline; the
 * subscriber on `subject` extracts it. Throughput: FRAMES as fast as the
 * sender's backpressure allows. Latency: PACED frames, one every 0.5 ms.
 */
async function measure(
  bus: Bus,
  subject: string,
  extract: (bytes: Uint8Array) => Uint8Array,
  send: (data: Uint8Array) => boolean | Promise<void>,
  drain: () => Promise<void>,
): Promise<Result> {
  let received = 0;
  let target = 0;
  let done: () => void = () => undefined;
  const latencies: number[] = [];
  const sub = bus.connection.subscribe(subject, {
    callback: (_err, msg) => {
      const data = extract(msg.data);
      latencies.push(Number(process.hrtime.bigint() - sentAt(data)) / 1e6);
      if (++received === target) done();
    },
  });
  await bus.flush();

  // Throughput.
  let seq = 0;
  received = 0;
  target = FRAMES;
  let finished = new Promise<void>((r) => (done = r));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < FRAMES; i++) {
    if ((await send(payload(seq++))) === false) await drain();
  }
  await finished;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const framesPerSec = FRAMES / secs;

  // Latency, paced so that queueing does not dominate.
  latencies.length = 0;
  received = 0;
  target = PACED;
  finished = new Promise<void>((r) => (done = r));
  for (let i = 0; i < PACED; i++) {
    await send(payload(seq++));
    if (i % 2 === 1) await new Promise((r) => setTimeout(r, 1));
  }
  await finished;
  sub.unsubscribe();
  const sorted = [...latencies].sort((a, b) => a - b);
  return { framesPerSec, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
}

async function main(): Promise<void> {
  const nats = await startNatsServer({ jetstream: true });
  const logger = createLogger({ service: "p2p-gateway", node: "bench", level: "warn", pretty: false });
  const gateway = await startGateway({
    node: "bench",
    listenHost: "127.0.0.2",
    listenPort: 0,
    grpcPort: 0,
    metricsPort: 0,
    nodeKey: NodeKey.generate(),
    natsUrl: nats.url,
    pingIntervalMs: 60_000,
    seenCacheSize: 1_000_000,
    // The bench measures forwarding: the limiter still runs on every frame,
    // but its gossip bucket (200/s by default) must not drop the flood.
    rateLimits: { gossip: { count: 100_000_000, periodMs: 1_000, burst: 100_000_000 } },
    logger,
  });
  const bus = await Bus.connect({ servers: nats.url, name: "bench-subscriber" });
  const publisher = await Bus.connect({ servers: nats.url, name: "bench-publisher" });
  const peer = await ScriptedPeer.dial({ ip: "127.0.0.2" as never, port: gateway.p2pPort }, "127.0.0.3");
  await peer.handshake("127.0.0.2");
  peer.socket.on("data", () => peer.frames.splice(0)); // pings are not answered: the ping interval is long

  const results: Array<{ gw: Result; nats: Result }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Through the gateway: peer socket -> gateway -> NATS -> subscriber.
    const gw = await measure(
      bus,
      Subjects.peerIn("tx"),
      (bytes) => {
        const m = fromBinary(PeerMessageSchema, bytes);
        return (m.envelope!.payload.value as { data: Uint8Array }).data;
      },
      (data) => peer.socket.write(encodeFrame(create(EnvelopeSchema, { payload: { case: "tx", value: { data } } }))),
      () => once(peer.socket, "drain").then(() => undefined),
    );
    // Baseline: the same PeerMessage bytes published straight to NATS.
    const nc = publisher.connection;
    const natsRes = await measure(
      bus,
      "bench.raw",
      (bytes) => {
        const m = fromBinary(PeerMessageSchema, bytes);
        return (m.envelope!.payload.value as { data: Uint8Array }).data;
      },
      async (data) => {
        nc.publish(
          "bench.raw",
          toBinary(PeerMessageSchema, create(PeerMessageSchema, { peerIp: "127.0.0.3", connId: 1, envelope: { payload: { case: "tx", value: { data } } } })),
        );
        // Let the client flush now and then, as the socket's backpressure does for the peer.
        if (Buffer.from(data).readBigUInt64BE(0) % 1000n === 0n) await nc.flush();
      },
      async () => undefined,
    );
    results.push({ gw, nats: natsRes });
    console.log(
      `round ${round + 1}: gateway ${gw.framesPerSec.toFixed(0)} frames/s p50 ${gw.p50Ms.toFixed(3)} ms p99 ${gw.p99Ms.toFixed(3)} ms | ` +
        `raw NATS ${natsRes.framesPerSec.toFixed(0)} msgs/s p50 ${natsRes.p50Ms.toFixed(3)} ms p99 ${natsRes.p99Ms.toFixed(3)} ms`,
    );
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const gwFps = med(results.map((r) => r.gw.framesPerSec));
  const natsFps = med(results.map((r) => r.nats.framesPerSec));
  const gwP50 = med(results.map((r) => r.gw.p50Ms));
  const natsP50 = med(results.map((r) => r.nats.p50Ms));
  const gwP99 = med(results.map((r) => r.gw.p99Ms));
  const natsP99 = med(results.map((r) => r.nats.p99Ms));
  console.log(`\nbench:gateway  frames=${FRAMES} size=${SIZE}B paced=${PACED} rounds=${ROUNDS} (medians)`);
  console.log(`| path | frames/s | p50 ms | p99 ms |`);
  console.log(`|---|---|---|---|`);
  console.log(`| peer socket -> gateway -> NATS subscriber | ${gwFps.toFixed(0)} | ${gwP50.toFixed(3)} | ${gwP99.toFixed(3)} |`);
  console.log(`| raw NATS publish -> subscriber (baseline) | ${natsFps.toFixed(0)} | ${natsP50.toFixed(3)} | ${natsP99.toFixed(3)} |`);
  console.log(`| ratio gateway / baseline | ${(gwFps / natsFps).toFixed(2)}x | ${(gwP50 / natsP50).toFixed(2)}x | ${(gwP99 / natsP99).toFixed(2)}x |`);

  peer.close();
  await publisher.close();
  await bus.close();
  await gateway.stop();
  await nats.stop();
}

await main();
