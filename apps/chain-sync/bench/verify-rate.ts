import { Worker } from "node:worker_threads";
import { headerSigningBytes } from "@timenet/chain";
import type { Block } from "@timenet/proto";

// Each thread parses each producer's key once (a KeyObject reused), then verifies its share.
const THREAD = `
const { parentPort, workerData } = require("node:worker_threads");
const { createPublicKey, verify } = require("node:crypto");
const prefix = Buffer.from("302a300506032b6570032100", "hex");
const keys = new Map();
let ok = 0;
for (const [pub, msg, sig] of workerData) {
  const id = Buffer.from(pub).toString("hex");
  let key = keys.get(id);
  if (!key) keys.set(id, (key = createPublicKey({ key: Buffer.concat([prefix, pub]), format: "der", type: "spki" })));
  if (verify(null, msg, key, sig)) ok++;
}
parentPort.postMessage(ok);
`;

/** Signatures per second that `threads` threads verify over the blocks' headers (the machine's limit for validation). */
export async function verifyRate(blocks: Block[], threads: number): Promise<number> {
  const items = blocks.map((b) => [b.header!.producerId, headerSigningBytes(b.header!), b.header!.signature] as const);
  const shares = Array.from({ length: threads }, (_, t) => items.filter((_, i) => i % threads === t));
  const started = performance.now();
  const verified = await Promise.all(
    shares.map(
      (share) =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(THREAD, { eval: true, workerData: share });
          w.once("message", resolve);
          w.once("error", reject);
        }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  if (verified.reduce((a, b) => a + b, 0) !== blocks.length) throw new Error("a signature did not verify");
  return blocks.length / seconds;
}
