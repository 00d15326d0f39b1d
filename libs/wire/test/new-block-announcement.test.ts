import { test } from "node:test";
import assert from "node:assert/strict";
import { create, equals, toBinary } from "@bufbuild/protobuf";
import { BlockHeaderSchema, EnvelopeSchema, NewBlockSchema, type Envelope } from "@timenet/proto";
import { announcementFromPrefix, encodeVarint, peekEnvelopeHead } from "../src/index.js";

const header = create(BlockHeaderSchema, { height: 7, prevHash: new Uint8Array(32).fill(1), merkleRoot: new Uint8Array(32).fill(2), timestampMs: 1234n, producerId: new Uint8Array(32).fill(3), signature: new Uint8Array(64).fill(4) });
const announced = { height: 7, hash: new Uint8Array(32).fill(5), header };
const push = create(EnvelopeSchema, { requestId: 0, payload: { case: "newBlock", value: { ...announced, block: new Uint8Array(40_000).fill(6) } } });
const announcement = create(EnvelopeSchema, { payload: { case: "newBlock", value: announced } });

function read(body: Uint8Array, prefixBytes: number) {
  return announcementFromPrefix(body.subarray(0, prefixBytes), peekEnvelopeHead(body, body.length));
}

test("a push's announcement is read from the head of its frame, the block cut off", () => {
  const body = toBinary(EnvelopeSchema, push);
  for (const bytes of [400, 1024, body.length]) {
    const got = read(body, bytes);
    assert.ok(got, `${bytes} bytes read`);
    assert.ok(equals(EnvelopeSchema, got.envelope, announcement), "height, hash and header, no block");
    assert.deepEqual(Buffer.from(got.body), Buffer.from(toBinary(EnvelopeSchema, announcement)), "its own encoding, to forward");
  }
});

test("an announcement cut by the prefix, or one whose block comes first, is not read (undefined, nobody blamed)", () => {
  const body = toBinary(EnvelopeSchema, push);
  // Where the block's tag is: behind the push's payload head and the announcement's fields.
  const blockAt = peekEnvelopeHead(body, body.length).payloadOffset + toBinary(NewBlockSchema, create(NewBlockSchema, announced)).length;
  assert.equal(read(body, 60), undefined, "the header runs past the prefix");
  assert.equal(read(body, blockAt), undefined, "the block's tag is not in the prefix: more announcement fields may follow");
  assert.ok(read(body, blockAt + 1), "the block's tag is");
  // Fields in another order (protobuf allows it): the block first, the hash behind it, unread.
  const reordered = Buffer.concat([toBinary(NewBlockSchema, create(NewBlockSchema, { block: new Uint8Array(40_000) })), toBinary(NewBlockSchema, create(NewBlockSchema, announced))]);
  const env = Buffer.concat([Buffer.from([0x92, 0x01]), encodeVarint(reordered.length), reordered]);
  assert.equal(read(env, 1024), undefined);
});

test("only a NewBlock has an announcement", () => {
  const ping: Envelope = create(EnvelopeSchema, { payload: { case: "ping", value: { nonce: 1n } } });
  const body = toBinary(EnvelopeSchema, ping);
  assert.equal(read(body, body.length), undefined);
});
