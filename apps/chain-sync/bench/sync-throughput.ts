// npm run bench:sync [-- --blocks N --workers 1,2,4]
// Time to sync N blocks (~1 KiB each) from one peer on loopback with 1, 2 and
// 4 chain-sync workers, beside the block-store's raw PutBlocks rate for the
// same blocks in the same run (the limit): the ratio is what to compare.
import { parseArgs } from "node:util";
import { DEVNET } from "@timenet/chain";
import { buildChain, putChain, startNode, waitHeight, type SyncNode } from "../test/harness.js";

const { values } = parseArgs({ options: { blocks: { type: "string", default: "20000" }, workers: { type: "string", default: "1,2,4" } } });
const N = Number(values.blocks);
const workerCounts = values.workers.split(",").map(Number);

const t0 = performance.now();
const chain = buildChain(DEVNET.genesis.header!, N);
console.log(`built and signed ${N} blocks in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const nodes: SyncNode[] = [];
try {
  const source = await startNode(200);
  nodes.push(source);
  const putStart = performance.now();
  await putChain(source, chain, 128); // the batch size chain-sync uses
  const rawRate = N / ((performance.now() - putStart) / 1000);

  const rows: Array<{ what: string; rate: number }> = [{ what: "block-store PutBlocks (raw, batches of 128)", rate: rawRate }];
  for (const [i, w] of workerCounts.entries()) {
    const target = await startNode(201 + i);
    nodes.push(target);
    for (let k = 0; k < w; k++) await target.startSync({ ackWaitMs: 30_000, requestTimeoutMs: 10_000, maxWaitMs: 20_000, replanAfterMs: 30_000 });
    const started = performance.now();
    await target.dial(source);
    await waitHeight(target, N, 600_000);
    rows.push({ what: `chain-sync, ${w} worker${w > 1 ? "s" : ""} (from one peer)`, rate: N / ((performance.now() - started) / 1000) });
    await target.stop();
    nodes.pop();
  }
  console.log(`\n${N} blocks of ~1 KiB, loopback, one source peer:\n`);
  console.log("| path | blocks/s | ratio to raw PutBlocks |");
  console.log("|---|---|---|");
  for (const r of rows) console.log(`| ${r.what} | ${Math.round(r.rate)} | ${(r.rate / rawRate).toFixed(2)}x |`);
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
}
