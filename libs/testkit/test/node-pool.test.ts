import { test } from "node:test";
import assert from "node:assert/strict";
import { nodePoolOf } from "../src/index.js";

test("stopAll stops a node whose start was still in flight when another start failed", async () => {
  const stopped: string[] = [];
  let finishSlow!: () => void;
  const slowStarted = new Promise<void>((r) => (finishSlow = r));
  const { node, stopAll } = nodePoolOf(async (name: string) => {
    if (name === "bad") throw new Error("did not become ready");
    if (name === "slow") await slowStarted;
    return { stop: async () => void stopped.push(name) };
  });
  await assert.rejects(Promise.all([node("fast"), node("slow"), node("bad")]), /did not become ready/);
  // The test's `after` runs now, while "slow" is still starting.
  const stopping = stopAll();
  finishSlow();
  await stopping;
  assert.deepEqual(stopped.sort(), ["fast", "slow"]);
});
