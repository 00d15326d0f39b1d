// The serving thread: answers peers' GetBlocks from a read-only view of the
// chain's LMDB environment, so reading and encoding megabytes of blocks never
// delays the main thread, which validates and writes (PutBlocks).
import { parentPort, workerData } from "node:worker_threads";
import { LmdbEnvironment } from "@timenet/lmdb";
import { openChainTables } from "./chain-tables.js";
import { ServeBudget } from "./serve-budget.js";
import { answerJob, type FromServeWorker, type ServeWorkerData, type ToServeWorker } from "./serve-job.js";

const port = parentPort!;
const data = workerData as ServeWorkerData;
const env = await LmdbEnvironment.open(data.dbPath, "the block store (serving reader)", openChainTables, { readOnly: true });
const { heights, blocks } = env.tables;
const budget = new ServeBudget(data.budget);
const post = (m: FromServeWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on("message", (m: ToServeWorker) => {
  if (m.type === "close") {
    // Jobs posted before "close" were answered first: messages arrive in order.
    void env.close().finally(() => process.exit(0));
    return;
  }
  // One read transaction per answer: a snapshot, so a reorg committed meanwhile cannot mix two chains in one answer.
  const transaction = env.root.useReadTransaction();
  try {
    const answer = answerJob(
      (h) => {
        const hash = heights.get(h, { transaction });
        return hash === undefined ? undefined : blocks.get(hash, { transaction });
      },
      budget,
      m.job,
    );
    post({ type: "answer", answer }, [answer.reply.buffer as ArrayBuffer]);
  } catch (err) {
    post({ type: "failed", id: m.job.id, message: (err as Error).message });
  } finally {
    transaction.done();
  }
});
post({ type: "ready" });
