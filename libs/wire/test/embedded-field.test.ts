import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { BlockSchema, EnvelopeSchema, PeerMessageSchema, PeerResponseSchema, PutBlocksRequestSchema, type Block } from "@timenet/proto";
import { repeatedEmbeddedField, withEmbeddedField } from "../src/embedded-field.js";
import { encodedEnvelope } from "../src/encoded-envelope.js";
import { encodedFrame, encodeFrame } from "../src/frame-codec.js";
import { FrameError } from "../src/frame-error.js";

// Bodies of 0, 1, 127, 128 and 20,000 bytes: every varint length from 1 to 3 bytes.
const block = (n: number): Block => create(BlockSchema, { header: { height: n + 1, timestampMs: 10n ** 12n }, txs: n === 0 ? [] : [new Uint8Array(n).fill(9)] });
const SIZES = [0, 1, 127, 128, 20_000];

test("a message spliced around an embedded message's bytes is byte for byte what protobuf-es encodes", () => {
  for (const n of SIZES) {
    const envelope = create(EnvelopeSchema, { requestId: n + 1, payload: { case: "blocks", value: { blocks: [block(n)] } } });
    const body = toBinary(EnvelopeSchema, envelope);
    assert.deepEqual(withEmbeddedField(new Uint8Array(0), 0x0a, body), toBinary(PeerResponseSchema, create(PeerResponseSchema, { result: { case: "envelope", value: envelope } })));
    const head = toBinary(PeerMessageSchema, create(PeerMessageSchema, { peerIp: "127.0.0.9", connId: 300 }));
    assert.deepEqual(withEmbeddedField(head, 0x1a, body), toBinary(PeerMessageSchema, create(PeerMessageSchema, { peerIp: "127.0.0.9", connId: 300, envelope })));
  }
  const blocks = SIZES.map(block);
  assert.deepEqual(
    repeatedEmbeddedField(0x0a, blocks.map((b) => toBinary(BlockSchema, b))),
    toBinary(PutBlocksRequestSchema, create(PutBlocksRequestSchema, { blocks })),
  );
  assert.deepEqual(repeatedEmbeddedField(0x0a, []), new Uint8Array(0));
});

test("an encoded envelope is framed as its message would be; one not in canonical form is BAD_FRAME", () => {
  const envelope = create(EnvelopeSchema, { requestId: 7, payload: { case: "blocks", value: { blocks: [block(128)] } } });
  const encoded = encodedEnvelope(toBinary(EnvelopeSchema, envelope));
  assert.equal(encoded.head.kind, "blocks");
  assert.equal(encoded.head.requestId, 7);
  assert.deepEqual(encodedFrame(encoded.body), encodeFrame(envelope));
  // Bytes after the payload, and a payload field before the request id: what no peer accepts is never sent.
  const body = toBinary(EnvelopeSchema, envelope);
  const bad = (b: Uint8Array) => assert.throws(() => encodedEnvelope(b), (e: unknown) => e instanceof FrameError && e.code === "BAD_FRAME");
  bad(Uint8Array.of(...body, 0x08, 0x01));
  bad(Uint8Array.of(...body.subarray(2), 0x08, 0x07));
  bad(body.subarray(0, body.length - 1));
});
