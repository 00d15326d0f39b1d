// Child process of crash.test: opens the store and commits large batches
// forever (every third one a switch to a longer fork 3 blocks deep), printing
// "<height> <hash>" of each committed tip. Without arguments (as `node --test`
// loads every file in dist/test) it does nothing.
import { hashHex, DEVNET } from "@timenet/chain";
import { PutResult } from "@timenet/proto";
import { createLogger, createRegistry } from "@timenet/telemetry";
import { BlockStore } from "../src/block-store.js";
import { StoreMetrics } from "../src/metrics.js";
import { buildChain, endOf } from "./chain-builder.js";

const [dbPath, batchArg = "40", padArg = "131072"] = process.argv.slice(2);
if (dbPath !== undefined) await writeForever(dbPath, Number(batchArg), Number(padArg));

async function writeForever(path: string, batch: number, padBytes: number): Promise<never> {
  const store = await BlockStore.open(path, {
    network: DEVNET,
    metrics: new StoreMetrics(createRegistry({ service: "crash-writer", collectDefault: false })),
    logger: createLogger({ service: "crash-writer", level: "silent" }),
  });
  for (let round = 0; ; round++) {
    const tip = store.tip;
    const fork = round % 3 === 2 && tip.height > 3;
    const from = fork ? store.blockAt(tip.height - 3)! : undefined;
    const blocks = from
      ? buildChain(endOf(from), 3 + batch, { salt: `fork ${process.pid} ${round}`, padBytes })
      : buildChain({ height: tip.height, hash: tip.hash, timestampMs: tip.header.timestampMs }, batch, { salt: `${process.pid} ${round}`, padBytes });
    const outcome = store.put(blocks);
    if (outcome.result !== PutResult.APPLIED) {
      console.error(`crash-writer: put ${round} was ${PutResult[outcome.result]}: ${outcome.detail}`);
      process.exit(3);
    }
    // Synchronous on a pipe: the parent has read this line when the commit is reported.
    process.stdout.write(`${outcome.tip.height} ${hashHex(outcome.tip.hash)}\n`);
  }
}
