// npm run bench:gateway [-- --frames N --size BYTES --paced N]
//
// Frames/s and latency from a peer socket, through the Noise channel and the
// gateway, to a NATS subscriber on p2p.in.tx, beside raw NATS publish ->
// subscribe of the same payloads on the same server in the same run (the
// baseline: the machine is shared and noisy, so only the ratio is comparable
// across runs). Then the channel alone: encrypted against plaintext over one
// loopback socket, handshakes per second on one core, one 8 MiB frame.
import { once } from "node:events";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { PeerMessageSchema, Subjects } from "@timenet/proto";
import { Bus } from "@timenet/bus";
import { createLogger } from "@timenet/telemetry";
import { NodeKey } from "@timenet/node-key";
import { parseCommandLine, startNatsServer } from "@timenet/testkit";
import { Worker } from "node:worker_threads";
import { startGateway } from "../src/gateway.js";
import { runPlan, sentAt, type SendPlan } from "./bench-sender.js";
import { bigFrame, handshakesPerSecond, transportFramesPerSecond } from "./channel-bench.js";

const cli = parseCommandLine({
  command: "npm run bench:gateway",
  about: "Frames/s and latency from a peer socket through the Noise channel and the gateway to a NATS subscriber, against raw NATS publish to subscribe in the same run; then the channel alone.",
  options: {
    frames: { type: "string", default: "50000", arg: "N", help: "frames for the throughput measure" },
    size: { type: "string", default: "256", arg: "BYTES", help: "payload size" },
    paced: { type: "string", default: "2000", arg: "N", help: "frames for the latency measure, one every 0.5 ms" },
    rounds: { type: "string", default: "3", arg: "R", help: "rounds" },
    burst: { type: "string", default: "16", arg: "N", help: "frames the peer seals per turn" },
    channel: { type: "string", default: "true", arg: "true|false", help: "false: only the relay (e.g. under --cpu-prof)" },
  },
});
const BURST = cli.number("burst", { min: 1 });
const FRAMES = cli.number("frames", { min: 1 });
const SIZE = cli.number("size", { min: 1 });
const PACED = cli.number("paced", { min: 1 });
const ROUNDS = cli.number("rounds", { min: 1 });
const CHANNEL = cli.oneOf("channel", ["true", "false"]) === "true";

interface Result {
  framesPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Runs one measurement: `run(plan)` sends the plan's payloads into the
 * pipeline (resolving once all are sent); the subscriber on `subject`
 * extracts them. Throughput: FRAMES as fast as backpressure allows.
 * Latency: PACED frames, one every 0.5 ms.
 */
async function measure(bus: Bus, subject: string, extract: (bytes: Uint8Array) => Uint8Array, run: (plan: SendPlan) => Promise<void>): Promise<Result> {
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

  received = 0;
  target = FRAMES;
  let finished = new Promise<void>((r) => (done = r));
  const t0 = process.hrtime.bigint();
  await run({ phase: "throughput", count: FRAMES, startSeq: 0, size: SIZE, burst: BURST });
  await finished;
  const framesPerSec = FRAMES / (Number(process.hrtime.bigint() - t0) / 1e9);

  latencies.length = 0;
  received = 0;
  target = PACED;
  finished = new Promise<void>((r) => (done = r));
  await run({ phase: "paced", count: PACED, startSeq: FRAMES, size: SIZE, burst: BURST });
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
  // The peer in its own thread (a remote host's CPU is not the gateway's).
  const worker = new Worker(new URL("./peer-worker.js", import.meta.url), { workerData: { ip: "127.0.0.2", port: gateway.p2pPort, localAddress: "127.0.0.3" } });
  const [ready] = (await once(worker, "message")) as [string];
  if (ready !== "ready") throw new Error(`peer worker: ${ready}`);
  const viaPeer = (sealEach: boolean) => async (plan: SendPlan) => {
    worker.postMessage({ plan, sealEach });
    await once(worker, "message");
  };
  const extractTx = (bytes: Uint8Array) => {
    const m = fromBinary(PeerMessageSchema, bytes);
    return (m.envelope!.payload.value as { data: Uint8Array }).data;
  };

  const results: Array<{ gw: Result; gwEach: Result; nats: Result }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Through the gateway: peer socket -> Noise -> gateway -> NATS -> subscriber.
    const gw = await measure(bus, Subjects.peerIn("tx"), extractTx, viaPeer(false));
    const gwEach = await measure(bus, Subjects.peerIn("tx"), extractTx, viaPeer(true));
    // Baseline: the same PeerMessage bytes published straight to NATS (in this thread, as a NATS client).
    const nc = publisher.connection;
    const natsRes = await measure(bus, "bench.raw", extractTx, (plan) =>
      runPlan(
        plan,
        (data) => {
          nc.publish(
            "bench.raw",
            toBinary(PeerMessageSchema, create(PeerMessageSchema, { peerIp: "127.0.0.3", connId: 1, envelope: { payload: { case: "tx", value: { data } } } })),
          );
          // Let the client flush now and then, as the socket's backpressure does for the peer.
          return Buffer.from(data).readBigUInt64BE(0) % 1000n !== 0n;
        },
        () => nc.flush(),
      ),
    );
    results.push({ gw, gwEach, nats: natsRes });
    console.log(
      `round ${round + 1}: gateway ${gw.framesPerSec.toFixed(0)} frames/s p50 ${gw.p50Ms.toFixed(3)} ms p99 ${gw.p99Ms.toFixed(3)} ms | ` +
        `one message per frame ${gwEach.framesPerSec.toFixed(0)} frames/s | ` +
        `raw NATS ${natsRes.framesPerSec.toFixed(0)} msgs/s p50 ${natsRes.p50Ms.toFixed(3)} ms p99 ${natsRes.p99Ms.toFixed(3)} ms`,
    );
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const gwFps = med(results.map((r) => r.gw.framesPerSec));
  const eachFps = med(results.map((r) => r.gwEach.framesPerSec));
  const eachP50 = med(results.map((r) => r.gwEach.p50Ms));
  const eachP99 = med(results.map((r) => r.gwEach.p99Ms));
  const natsFps = med(results.map((r) => r.nats.framesPerSec));
  const gwP50 = med(results.map((r) => r.gw.p50Ms));
  const natsP50 = med(results.map((r) => r.nats.p50Ms));
  const gwP99 = med(results.map((r) => r.gw.p99Ms));
  const natsP99 = med(results.map((r) => r.nats.p99Ms));
  console.log(`\nbench:gateway  frames=${FRAMES} size=${SIZE}B burst=${BURST} paced=${PACED} rounds=${ROUNDS} (medians)`);
  console.log(`| path | frames/s | p50 ms | p99 ms |`);
  console.log(`|---|---|---|---|`);
  console.log(`| peer socket -> Noise -> gateway -> NATS subscriber (peer seals each turn, as a gateway) | ${gwFps.toFixed(0)} | ${gwP50.toFixed(3)} | ${gwP99.toFixed(3)} |`);
  console.log(`| the same, peer seals every frame alone (worst case) | ${eachFps.toFixed(0)} | ${eachP50.toFixed(3)} | ${eachP99.toFixed(3)} |`);
  console.log(`| raw NATS publish -> subscriber (baseline) | ${natsFps.toFixed(0)} | ${natsP50.toFixed(3)} | ${natsP99.toFixed(3)} |`);
  console.log(`| ratio gateway / baseline | ${(gwFps / natsFps).toFixed(2)}x | ${(gwP50 / natsP50).toFixed(2)}x | ${(gwP99 / natsP99).toFixed(2)}x |`);
  console.log(`| ratio worst case / baseline | ${(eachFps / natsFps).toFixed(2)}x | ${(eachP50 / natsP50).toFixed(2)}x | ${(eachP99 / natsP99).toFixed(2)}x |`);

  if (!CHANNEL) {
    worker.postMessage("close");
    await publisher.close();
    await bus.close();
    await gateway.stop();
    await nats.stop();
    return;
  }
  // The channel alone.
  const plain: number[] = [];
  const sealed: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    plain.push(await transportFramesPerSecond(false, FRAMES * 2, SIZE));
    sealed.push(await transportFramesPerSecond(true, FRAMES * 2, SIZE));
  }
  const hs = handshakesPerSecond();
  const big = bigFrame();
  console.log(`\nNoise channel alone (medians of ${ROUNDS} rounds where repeated)`);
  console.log(`| measure | value | baseline (same run) | ratio |`);
  console.log(`|---|---|---|---|`);
  console.log(`| ${SIZE} B frames over one loopback socket, one transport message each | ${med(sealed).toFixed(0)} frames/s encrypted | ${med(plain).toFixed(0)} frames/s plaintext | ${(med(sealed) / med(plain)).toFixed(2)}x |`);
  console.log(`| complete XX handshakes (both ends, identities signed and verified) on one core | ${hs.handshakes.toFixed(0)} /s | ${hs.dhPerSec.toFixed(0)} X25519 /s (OpenSSL, keys parsed) | ${(hs.handshakes / hs.dhPerSec).toFixed(3)}x |`);
  console.log(`| one 8 MiB frame sealed, opened and decoded | ${big.encryptedMBps.toFixed(0)} MB/s | ${big.plainMBps.toFixed(0)} MB/s decoded in the clear | ${(big.encryptedMBps / big.plainMBps).toFixed(2)}x |`);

  worker.postMessage("close");
  await publisher.close();
  await bus.close();
  await gateway.stop();
  await nats.stop();
}

await main();
