import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import { TypedEvents } from "@timenet/events";
import { freePort, nextEvent, startNatsServer, waitFor } from "../src/index.js";

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

test("two nats-servers run at once on their own ports, and stop frees the port", async () => {
  const [a, b] = await Promise.all([startNatsServer({ jetstream: false }), startNatsServer()]);
  try {
    assert.notEqual(a.port, b.port);
    assert.equal(await canConnect(a.port), true);
    assert.equal(await canConnect(b.port), true);
    assert.equal(a.storeDir, undefined);
    assert.ok(b.storeDir, "JetStream by default");
  } finally {
    await a.stop();
    await b.stop();
  }
  assert.equal(await canConnect(a.port), false);
});

test("freePort: bindable ports below the ephemeral range, never the same one twice while reserved", async () => {
  const ports = await Promise.all(Array.from({ length: 50 }, () => freePort("127.0.0.2")));
  assert.equal(new Set(ports).size, ports.length, "no port handed out twice");
  for (const p of ports) assert.ok(p >= 20_000 && p < 32_768, `${p} is below Linux's ephemeral range`);
  // A port some process listens on is never handed out.
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(ports[0], "127.0.0.2", r));
  try {
    for (let i = 0; i < 20; i++) assert.notEqual(await freePort("127.0.0.2"), ports[0]);
  } finally {
    await new Promise((r) => taken.close(r));
  }
});

test("waitFor resolves with the value, or times out with the message", async () => {
  let n = 0;
  assert.equal(await waitFor(() => ++n >= 3 && n, { intervalMs: 1 }), 3);
  await assert.rejects(waitFor(() => false, { timeoutMs: 50, message: "never" }), /timed out after 50ms: never/);
});

test("nextEvent filters, hands over the arguments, and times out", async () => {
  const e = new TypedEvents<{ x: (n: number, s: string) => void; y: () => void }>(() => undefined);
  const p = nextEvent(e, "x", { filter: (n) => n > 1 });
  e.emit("x", 1, "a");
  e.emit("x", 2, "b");
  assert.deepEqual(await p, [2, "b"]);
  assert.equal(e.listenerCount("x"), 0, "its listener is gone");
  await assert.rejects(nextEvent(e, "y", { timeoutMs: 20 }), /no "y" event within 20ms/);
});
