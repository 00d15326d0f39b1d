import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema, type Envelope } from "@timenet/proto";
import { PeerRequestError, PendingRequests } from "../src/pending-requests.js";
import { ManualClock } from "./manual-clock.js";
import type { Answer } from "../src/frame-prices.js";

const ANSWER: Answer = { kind: "peers", maxBytes: 1024, shape: { maxFields: 10 } };
const peers = (requestId: number): Envelope => create(EnvelopeSchema, { requestId, payload: { case: "peers", value: { peers: [] } } });

/** Hands `env` to `pending` as the connection does: with its encoding as received. */
const answer = (pending: PendingRequests, env: Envelope, kind: string) => pending.answer(env.requestId, kind, toBinary(EnvelopeSchema, env));

function rejection(p: Promise<unknown>): Promise<PeerRequestError> {
  return p.then(
    () => assert.fail("expected a rejection"),
    (err: unknown) => {
      assert.ok(err instanceof PeerRequestError);
      return err;
    },
  );
}

test("a response is matched to its question by request id, each id distinct and never zero", async () => {
  const clock = new ManualClock();
  const pending = new PendingRequests(10, clock);
  const sent: number[] = [];
  const first = pending.ask(1_000, ANSWER, (id) => sent.push(id));
  const second = pending.ask(1_000, ANSWER, (id) => sent.push(id));
  assert.equal(sent.length, 2);
  assert.ok(sent.every((id) => id !== 0));
  assert.notEqual(sent[0], sent[1]);
  // Answers may come in any order.
  assert.equal(answer(pending, peers(sent[1]!), "peers"), true);
  assert.equal(answer(pending, peers(sent[0]!), "peers"), true);
  assert.deepEqual((await first).body, toBinary(EnvelopeSchema, peers(sent[0]!)));
  assert.deepEqual((await second).body, toBinary(EnvelopeSchema, peers(sent[1]!)));
  assert.equal(pending.size, 0);
  assert.equal(clock.pendingTimers, 0, "answered questions leave no timer behind");
});

test("what is not an answer to a pending question is left to the caller", () => {
  const pending = new PendingRequests(10, new ManualClock());
  let id = 0;
  void pending.ask(1_000, ANSWER, (i) => (id = i));
  // An unknown id, an unsolicited message (id 0), and a question that happens to carry our id.
  assert.equal(answer(pending, peers(id + 1), "peers"), false);
  assert.equal(answer(pending, peers(0), "peers"), false);
  const question = create(EnvelopeSchema, { requestId: id, payload: { case: "getPeers", value: { max: 1 } } });
  assert.equal(answer(pending, question, "get_peers"), false);
  assert.equal(pending.size, 1);
  // A second answer to the same question is not an answer any more.
  assert.equal(answer(pending, peers(id), "peers"), true);
  assert.equal(answer(pending, peers(id), "peers"), false);
});

test("a question without an answer times out and is forgotten", async () => {
  const clock = new ManualClock();
  const pending = new PendingRequests(10, clock);
  let id = 0;
  const asked = pending.ask(500, ANSWER, (i) => (id = i));
  clock.advance(499);
  assert.equal(pending.size, 1);
  clock.advance(1);
  assert.equal((await rejection(asked)).code, "TIMEOUT");
  assert.equal(pending.size, 0);
  // A late answer is not matched to anything.
  assert.equal(answer(pending, peers(id), "peers"), false);
});

test("at most max questions wait at once; closing rejects every one of them", async () => {
  const clock = new ManualClock();
  const pending = new PendingRequests(2, clock);
  const asked = [pending.ask(1_000, ANSWER, () => undefined), pending.ask(1_000, ANSWER, () => undefined)];
  assert.equal((await rejection(pending.ask(1_000, ANSWER, () => assert.fail("not sent")))).code, "TOO_MANY_REQUESTS");
  pending.rejectAll("connection closed: shutdown");
  for (const p of asked) {
    const err = await rejection(p);
    assert.equal(err.code, "PEER_CLOSED");
    assert.equal(err.message, "connection closed: shutdown");
  }
  assert.equal(clock.pendingTimers, 0);
});

test("a send that closes the connection rejects the question it was sending", async () => {
  const pending = new PendingRequests(2, new ManualClock());
  const asked = pending.ask(1_000, ANSWER, () => pending.rejectAll("send queue full"));
  assert.equal((await rejection(asked)).code, "PEER_CLOSED");
});
