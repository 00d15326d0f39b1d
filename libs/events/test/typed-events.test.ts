import { test } from "node:test";
import assert from "node:assert/strict";
import { TypedEvents } from "../src/index.js";

type Events = {
  message: (kind: string, size: number) => void;
  closed: () => void;
};

test("listeners run in order with typed arguments; off and the returned function remove them", () => {
  const got: string[] = [];
  const ev = new TypedEvents<Events>(() => assert.fail("no listener throws"));
  const a = (kind: string, size: number) => void got.push(`a:${kind}:${size}`);
  const removeB = ev.on("message", (kind) => void got.push(`b:${kind}`));
  ev.on("message", a);
  ev.emit("message", "tx", 3);
  removeB();
  ev.off("message", a);
  ev.emit("message", "tx", 4);
  assert.deepEqual(got, ["b:tx", "a:tx:3"]);
  assert.equal(ev.listenerCount("message"), 0);
});

test("a throwing listener is reported, the others still run, and emit never throws", () => {
  const errors: Array<[string, string]> = [];
  const ev = new TypedEvents<Events>((event, err) => errors.push([event, (err as Error).message]));
  let after = 0;
  ev.on("closed", () => {
    throw new Error("listener bug");
  });
  ev.on("closed", () => void after++);
  assert.doesNotThrow(() => ev.emit("closed"));
  assert.equal(after, 1);
  assert.deepEqual(errors, [["closed", "listener bug"]]);
});

test("a reporter that throws is contained too", () => {
  const ev = new TypedEvents<Events>(() => {
    throw new Error("reporter bug");
  });
  ev.on("closed", () => {
    throw new Error("listener bug");
  });
  assert.doesNotThrow(() => ev.emit("closed"));
});

test("a listener that removes itself while emitting does not skip the next one", () => {
  const got: number[] = [];
  const ev = new TypedEvents<Events>(() => undefined);
  const remove = ev.on("closed", () => {
    got.push(1);
    remove();
  });
  ev.on("closed", () => void got.push(2));
  ev.emit("closed");
  ev.emit("closed");
  assert.deepEqual(got, [1, 2, 2]);
});
