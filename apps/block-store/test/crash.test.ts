// Crash safety: a child commits large batches and is SIGKILLed mid-run; the
// reopened store is a contiguous, linked, valid chain holding every reported commit.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { blockHash, DEVNET, hashHex, validateChain } from "@timenet/chain";
import { createRegistry } from "@timenet/telemetry";
import { tempDir, waitFor } from "@timenet/testkit";
import type { Block } from "@timenet/proto";
import { BlockStore } from "../src/block-store.js";
import { StoreMetrics } from "../src/metrics.js";
import { testLogger } from "./harness.js";

const WRITER = fileURLToPath(new URL("./crash-writer.js", import.meta.url));
const ROUNDS = 3;
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

interface Commit {
  height: number;
  hash: string;
}

/** Runs the writer until it has reported `commits` commits (plus a random moment), then SIGKILLs it. */
async function writeAndKill(dbPath: string, commits: number): Promise<Commit> {
  const child = spawn(process.execPath, [WRITER, dbPath, "40", "131072"], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  const reported: Commit[] = [];
  let pending = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const lines = (pending + chunk.toString("utf8")).split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      const [height, hash] = line.split(" ");
      reported.push({ height: Number(height), hash: hash! });
    }
  });
  try {
    await waitFor(() => reported.length >= commits, { timeoutMs: 60_000, message: `${commits} commits reported` });
    // Somewhere inside the next batch: about half of its time is its ~5 MB transaction.
    await new Promise((r) => setTimeout(r, Math.random() * 120));
  } finally {
    child.kill("SIGKILL");
  }
  assert.equal(await exited, "SIGKILL", "the writer was killed, it did not stop by itself");
  return reported.at(-1)!;
}

test(`SIGKILL during large writes leaves a contiguous, linked, valid chain with every reported commit (${ROUNDS} rounds)`, async () => {
  const dir = await tempDir("crash-");
  cleanups.push(() => dir.remove());
  const dbPath = join(dir.path, "blocks");
  for (let round = 0; round < ROUNDS; round++) {
    const last = await writeAndKill(dbPath, 4 + round);

    const store = await BlockStore.open(dbPath, {
      network: DEVNET,
      metrics: new StoreMetrics(createRegistry({ service: "t", collectDefault: false })),
      logger: testLogger("t"),
    });
    try {
      const tip = store.tip;
      assert.ok(tip.height >= last.height, `round ${round}: tip ${tip.height} is below the last reported commit ${last.height}`);
      assert.ok(store.blockByHash(Buffer.from(last.hash, "hex")), `round ${round}: the last reported tip ${last.hash} is stored`);
      const blocks: Block[] = [];
      let previous: Uint8Array | undefined;
      for (let h = 0; h <= tip.height; h++) {
        const hash = store.hashAt(h);
        assert.ok(hash, `round ${round}: height ${h} of ${tip.height} is indexed`);
        const found = store.blockByHash(hash);
        assert.ok(found, `round ${round}: block ${h} ${hashHex(hash)} is stored`);
        const header = found.block.header!;
        assert.equal(header.height, h);
        assert.equal(hashHex(blockHash(header)), hashHex(hash), `round ${round}: block ${h} is stored under its own hash`);
        if (previous) assert.equal(hashHex(header.prevHash), hashHex(previous), `round ${round}: block ${h} links to block ${h - 1}`);
        assert.equal(found.mainChain, true);
        previous = hash;
        if (h > 0) blocks.push(found.block);
      }
      assert.equal(store.hashAt(tip.height + 1), undefined);
      // Every block whole: signatures, merkle roots over the stored txs, links.
      const valid = validateChain(blocks, DEVNET.genesis.header, DEVNET, Date.now());
      assert.ok(valid.ok, valid.ok ? "" : `round ${round}: block ${valid.index + 1}: ${valid.detail}`);
    } finally {
      await store.close();
    }
  }
});
