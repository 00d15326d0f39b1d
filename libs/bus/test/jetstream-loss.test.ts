// What NATS says is gone, as a real nats-server answers it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServerHandle } from "@timenet/testkit";
import { jetStreamLoss } from "../src/index.js";

let nats: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
before(async () => {
  nats = await startNatsServer({ jetstream: true });
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
});
after(async () => {
  await nc.close();
  await nats.stop();
});

const failure = async (op: () => Promise<unknown>): Promise<unknown> => {
  try {
    await op();
  } catch (err) {
    return err;
  }
  assert.fail("the call succeeded");
};

test("a stream or a consumer NATS does not have is named; any other failure is neither", async () => {
  assert.equal(jetStreamLoss(await failure(() => jsm.streams.info("NO_SUCH_STREAM"))), "stream");
  assert.equal(jetStreamLoss(await failure(() => jsm.consumers.info("NO_SUCH_STREAM", "c"))), "stream");
  await jsm.streams.add({ name: "LOSS_TEST", subjects: ["loss.test"] });
  assert.equal(jetStreamLoss(await failure(() => jsm.consumers.info("LOSS_TEST", "no_such_consumer"))), "consumer");
  // Another JetStream refusal (a second stream on the same subject), and a failure that is not JetStream's at all.
  assert.equal(jetStreamLoss(await failure(() => jsm.streams.add({ name: "LOSS_TEST_2", subjects: ["loss.test"] }))), undefined);
  assert.equal(jetStreamLoss(new Error("connection closed")), undefined);
  assert.equal(jetStreamLoss(undefined), undefined);
});
