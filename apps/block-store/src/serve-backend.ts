import type { BlockStore } from "./block-store.js";
import { ServeBudget, type ServeBudgetLimits } from "./serve-budget.js";
import { answerJob, type ServeAnswer, type ServeJob } from "./serve-job.js";

/** Where GetBlocks answers are made. */
export interface ServeBackend {
  /** "worker": a thread of its own; "main": the store's own thread. */
  readonly where: "worker" | "main";
  start(): Promise<void>;
  /** Rejects with a ServeThreadError when the job could not be answered. */
  answer(job: ServeJob): Promise<ServeAnswer>;
  /** Answers what was handed over, then ends. */
  stop(): Promise<void>;
}

/**
 * Answers on the main thread, between PutBlocks: how the store served before
 * the serving worker, kept to measure the difference (bench:serve).
 */
export function mainThreadBackend(store: BlockStore, budget: ServeBudgetLimits): ServeBackend {
  const b = new ServeBudget(budget);
  return {
    where: "main",
    start: () => Promise.resolve(),
    answer: async (job) => answerJob((h) => store.encodedAt(h), b, job),
    stop: () => Promise.resolve(),
  };
}
