// A validation worker: the stateless checks (signature with producer keys
// parsed once, merkle root, sizes) of blocks the writer will validate and
// commit. The rules are the chain lib's; this file only runs them.
import { parentPort, workerData } from "node:worker_threads";
import { fromBinary } from "@bufbuild/protobuf";
import { statelessChecks } from "@timenet/chain";
import { CachedVerifier } from "@timenet/node-key";
import { BlockSchema } from "@timenet/proto";
import type { FromVerifyWorker, ToVerifyWorker, VerifyWorkerData } from "./verify-job.js";

const limits = workerData as VerifyWorkerData;
const verifier = new CachedVerifier();
const verify = verifier.verify.bind(verifier);

parentPort!.on("message", (job: ToVerifyWorker) => {
  const checks = job.encoded.map((bytes) => statelessChecks(fromBinary(BlockSchema, bytes), limits, verify, bytes.length));
  parentPort!.postMessage({ type: "checks", id: job.id, checks } satisfies FromVerifyWorker);
});
parentPort!.postMessage({ type: "ready" } satisfies FromVerifyWorker);
