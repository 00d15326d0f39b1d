// A validation worker: the stateless checks (signature with producer keys
// parsed once, merkle root, sizes) of blocks the writer will validate and
// commit. The rules are the chain lib's; this file only runs them.
import { parentPort, workerData } from "node:worker_threads";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { signBlock, statelessChecks } from "@timenet/chain";
import { CachedVerifier, NodeKey } from "@timenet/node-key";
import { BlockSchema } from "@timenet/proto";
import type { FromVerifyWorker, ToVerifyWorker, VerifyWorkerData } from "./verify-job.js";

/** Blocks checked once before the worker says it is ready (see warmUp). */
const WARM_UP_BLOCKS = 128;

const limits = workerData as VerifyWorkerData;
const verifier = new CachedVerifier();
const verify = verifier.verify.bind(verifier);
const check = (bytes: Uint8Array, verifyFn = verify) => statelessChecks(fromBinary(BlockSchema, bytes), limits, verifyFn, bytes.length);

/**
 * A fresh thread's first checks run cold (code not yet compiled, the
 * crypto's first use): a fresh store's first put of 128 blocks took ~1.5–2×
 * as long as the next ones. One put's worth of a throwaway key's blocks,
 * checked at start (with a verifier of their own, so no cache entry is
 * spent on them), moves that cost out of the first import.
 */
function warmUp(): void {
  const key = NodeKey.generate();
  const throwaway = new CachedVerifier(1);
  const block = toBinary(BlockSchema, signBlock({ height: 1, prevHash: new Uint8Array(32), timestampMs: 1n, txs: [new Uint8Array(1_000)] }, key));
  for (let i = 0; i < WARM_UP_BLOCKS; i++) check(block, throwaway.verify.bind(throwaway));
}

parentPort!.on("message", (job: ToVerifyWorker) => {
  const checks = job.encoded.map((bytes) => check(bytes));
  parentPort!.postMessage({ type: "checks", id: job.id, checks } satisfies FromVerifyWorker);
});
warmUp();
parentPort!.postMessage({ type: "ready" } satisfies FromVerifyWorker);
