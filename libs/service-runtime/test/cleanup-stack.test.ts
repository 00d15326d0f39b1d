import { test } from "node:test";
import assert from "node:assert/strict";
import { CleanupStack } from "../src/index.js";

test("cleanup steps run once, in reverse order, even when run twice at once", async () => {
  const order: string[] = [];
  const s = new CleanupStack();
  s.push(() => void order.push("bus"));
  s.push(async () => {
    await new Promise((r) => setTimeout(r, 5));
    order.push("server");
  });
  await Promise.all([s.run(), s.run()]);
  await s.run();
  assert.deepEqual(order, ["server", "bus"]);
});
