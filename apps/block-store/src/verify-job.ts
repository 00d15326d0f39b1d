import type { StatelessChecks } from "@timenet/chain";

/** The network limits the stateless checks need (plain numbers: NetworkParams is not sent to workers). */
export interface VerifyWorkerData {
  maxTxs: number;
  maxBlockBytes: number;
}

/** Encoded blocks (protobuf Block) to check, in order. */
export interface ToVerifyWorker {
  id: number;
  encoded: Uint8Array[];
}

/** One StatelessChecks per block of job `id`, in order. */
export type FromVerifyWorker = { type: "checks"; id: number; checks: StatelessChecks[] } | { type: "ready" };
