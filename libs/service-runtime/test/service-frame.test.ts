// ServiceFrame.serve: a service says it started only once the server has its
// subscriptions. The path from the service to NATS is stalled by a real TCP
// relay while it subscribes and serves: a message another client sends right
// after `serve` resolves must still reach it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "@timenet/bus";
import { createLogger } from "@timenet/telemetry";
import { startNatsServer, startTcpRelay, waitFor, type NatsServerHandle, type TcpRelay } from "@timenet/testkit";
import { ServiceFrame } from "../src/index.js";

let nats: NatsServerHandle;
let relay: TcpRelay;
before(async () => {
  nats = await startNatsServer({ jetstream: false });
  relay = await startTcpRelay({ target: { host: "127.0.0.1", port: nats.port } });
});
after(async () => {
  await relay.stop();
  await nats.stop();
});

test("serve() resolves only once the subscriptions made before it are on the server: a message sent right after is not lost", async () => {
  const frame = new ServiceFrame("probe", {
    node: "test",
    natsUrl: `nats://127.0.0.1:${relay.port}`,
    natsUser: undefined,
    natsPass: undefined,
    grpcHost: "127.0.0.1",
    grpcPort: 0,
    metricsHost: "127.0.0.1",
    metricsPort: 0,
    tls: undefined,
    logger: createLogger({ service: "probe", node: "test", level: "silent", pretty: false }),
    logLevel: "silent",
  });
  const other = await Bus.connect({ servers: nats.url, name: "other" });
  try {
    const bus = await frame.connectBus();
    // The service's path to NATS stalls: its SUB is held on the way, not lost.
    relay.pause();
    const got: Uint8Array[] = [];
    bus.subscribeEncoded("probe.events", (bytes) => {
      got.push(bytes);
    });
    let ready = false;
    const serving = frame.serve([], [{ name: "nats", check: () => bus.connected }]).then(() => (ready = true));
    // A bounded look at what must not happen: readiness while the SUB is still on the way.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ready, false, "serve() waits for the server to have the subscriptions");
    relay.resume();
    await serving;
    // Another client publishes the moment the service is ready.
    other.publishEncoded("probe.events", new Uint8Array([1, 2, 3]));
    await other.flush();
    await waitFor(() => got.length === 1, { timeoutMs: 3_000, message: "the message sent right after serve() reached the service" });
  } finally {
    await other.close();
    await frame.stop();
  }
});
