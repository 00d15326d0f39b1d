// The bench's signature-verification limit: one thread verifying headers
// with producer keys parsed once (CachedVerifier), nothing else.
import { parentPort } from "node:worker_threads";
import { CachedVerifier } from "@timenet/node-key";

export interface SigJob {
  keys: Uint8Array[];
  data: Uint8Array[];
  sigs: Uint8Array[];
}

const verifier = new CachedVerifier();
parentPort!.on("message", (job: SigJob) => {
  let ok = 0;
  for (let i = 0; i < job.sigs.length; i++) if (verifier.verify(job.keys[i]!, job.data[i]!, job.sigs[i]!)) ok++;
  parentPort!.postMessage(ok);
});
