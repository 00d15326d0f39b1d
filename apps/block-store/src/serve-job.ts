import type { BudgetLimit, ServeBudget, ServeBudgetLimits } from "./serve-budget.js";
import { blocksEntryBytes } from "@timenet/wire";
import { encodeBlocksReply, type ReplyTo } from "./serve-reply.js";

/** One peer's GetBlocks, as handed to the thread that answers. */
export interface ServeJob {
  id: number;
  to: ReplyTo;
  fromHeight: number;
  /** Blocks asked for, already capped at SERVE_MAX_BLOCKS. */
  count: number;
  /** SERVE_MAX_BYTES (bytes of the Blocks message); the first block is sent whatever its size. */
  maxBytes: number;
}

/** The answer: SendToPeer bytes ready to publish, and what went into them. */
export interface ServeAnswer {
  id: number;
  reply: Uint8Array;
  blocks: number;
  bytes: number;
  /** Set when a budget cut the answer short (blocks > 0) or refused it (blocks = 0). */
  limitedBy?: BudgetLimit;
  /** Peers the budget tracks after this answer. */
  budgetPeers: number;
}

/** The encoded main-chain block at a height, read from one consistent view of the chain. */
export type BlockAt = (height: number) => Uint8Array | undefined;

/**
 * Answers a job from the main chain: consecutive blocks from `fromHeight`
 * until the tip, `count`, `maxBytes` or the budget stops it. The budget is a
 * hard cap (the first block too): a block it has no room for is not read
 * further and is for a later request.
 */
export function answerJob(blockAt: BlockAt, budget: ServeBudget, job: ServeJob): ServeAnswer {
  const allowance = budget.allowance(job.to.peerIp);
  const blocks: Uint8Array[] = [];
  let bytes = 0;
  let limitedBy: BudgetLimit | undefined;
  if (allowance === "peers_full") limitedBy = "peers_full";
  else if (allowance.bytes <= 0) limitedBy = allowance.by;
  else {
    // Heights are uint32 keys: a request near the top of the range ends there.
    const end = Math.min(job.fromHeight + job.count, 2 ** 32);
    for (let h = job.fromHeight; h < end; h++) {
      const encoded = blockAt(h);
      if (encoded === undefined) break;
      const size = blocksEntryBytes(encoded.length);
      if (blocks.length > 0 && bytes + size > job.maxBytes) break;
      if (bytes + size > allowance.bytes) {
        limitedBy = allowance.by;
        break;
      }
      blocks.push(encoded);
      bytes += size;
    }
    budget.spend(job.to.peerIp, bytes);
  }
  return { id: job.id, reply: encodeBlocksReply(job.to, blocks, blocks.length === 0 && limitedBy !== undefined), blocks: blocks.length, bytes, ...(limitedBy && { limitedBy }), budgetPeers: budget.size };
}

/** What the serving worker is started with. */
export interface ServeWorkerData {
  dbPath: string;
  budget: ServeBudgetLimits;
}

export type ToServeWorker = { type: "job"; job: ServeJob } | { type: "close" };

export type FromServeWorker =
  | { type: "ready" }
  | { type: "answer"; answer: ServeAnswer }
  /** The job could not be read (an LMDB error): refused, the worker goes on. */
  | { type: "failed"; id: number; message: string };
