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

test("a failing step does not skip the rest: every step runs, then the failures are thrown together", async () => {
  const order: string[] = [];
  const s = new CleanupStack();
  s.push(() => void order.push("nats"));
  s.push(() => {
    order.push("grpc");
    throw new Error("grpc would not stop");
  });
  s.push(async () => {
    order.push("store");
    throw new Error("store flush failed");
  });
  s.push(() => void order.push("metrics"));
  await assert.rejects(s.run(), (err: unknown) => {
    assert.ok(err instanceof AggregateError);
    assert.deepEqual(
      err.errors.map((e: Error) => e.message),
      ["store flush failed", "grpc would not stop"],
    );
    return true;
  });
  assert.deepEqual(order, ["metrics", "store", "grpc", "nats"]);
});
