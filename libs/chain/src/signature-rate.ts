import { once } from "node:events";
import { Worker } from "node:worker_threads";
import type { Block } from "@timenet/proto";
import { headerSigningBytes } from "./header-encoding.js";

type Share = Array<[key: Uint8Array, data: Uint8Array, sig: Uint8Array]>;

/**
 * Blocks per second whose header signatures `threads` threads verify, keys
 * parsed once: the machine's limit for validating these blocks, which the
 * benches print their rates against. The threads start before the clock
 * does. Throws if any signature fails.
 */
export async function signatureRate(blocks: readonly Block[], threads: number): Promise<number> {
  const shares = Array.from({ length: threads }, (): Share => []);
  blocks.forEach((b, i) => shares[i % threads]!.push([b.header!.producerId, headerSigningBytes(b.header!), b.header!.signature]));
  const workers = shares.map(() => new Worker(new URL("./signature-rate-worker.js", import.meta.url)));
  try {
    await Promise.all(workers.map((w) => once(w, "online")));
    const started = performance.now();
    const verified = await Promise.all(
      workers.map((w, i) => {
        const answer = once(w, "message").then(([ok]) => ok as number);
        w.postMessage(shares[i]);
        return answer;
      }),
    );
    const rate = blocks.length / ((performance.now() - started) / 1000);
    if (verified.reduce((a, b) => a + b, 0) !== blocks.length) throw new Error("a signature did not verify");
    return rate;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
