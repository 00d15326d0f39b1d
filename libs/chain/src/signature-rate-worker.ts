// One thread of signatureRate: verifies the share of headers it is sent, with
// producer keys parsed once (CachedVerifier), nothing else.
import { parentPort } from "node:worker_threads";
import { CachedVerifier } from "@timenet/node-key";

const verifier = new CachedVerifier();
parentPort!.on("message", (share: Array<[Uint8Array, Uint8Array, Uint8Array]>) => {
  let ok = 0;
  for (const [key, data, sig] of share) if (verifier.verify(key, data, sig)) ok++;
  parentPort!.postMessage(ok);
});
