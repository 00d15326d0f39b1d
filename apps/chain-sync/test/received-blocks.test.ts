import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { BlockSchema, EnvelopeSchema, PeerResponseSchema, PutBlocksRequestSchema, type Block } from "@timenet/proto";
import { DEVNET } from "@timenet/chain";
import { withEmbeddedField } from "@timenet/wire";
import { decodePeerResponse, encodePutBlocksRequest, MalformedAnswerError } from "../src/received-blocks.js";
import { buildChain } from "./harness.js";

const CHAIN = buildChain(DEVNET.genesis.header!, 5);
const answer = (blocks: Block[]) =>
  toBinary(PeerResponseSchema, create(PeerResponseSchema, { result: { case: "envelope", value: { requestId: 9, payload: { case: "blocks", value: { blocks } } } } }));

test("blocks fetched through decodePeerResponse are put as the bytes received, in any selection and order", () => {
  const res = decodePeerResponse(answer(CHAIN));
  const got = res.result.case === "envelope" && res.result.value.payload.case === "blocks" ? res.result.value.payload.value.blocks : [];
  assert.equal(got.length, 5);
  const some = [got[3]!, got[1]!];
  const put = encodePutBlocksRequest(create(PutBlocksRequestSchema, { blocks: some }));
  assert.deepEqual(new Uint8Array(put), toBinary(PutBlocksRequestSchema, create(PutBlocksRequestSchema, { blocks: [CHAIN[3]!, CHAIN[1]!] })));
});

test("the bytes put are the peer's, not an encoding of what was decoded; blocks not fetched are encoded as usual", () => {
  // An answer whose first block carries an unknown field: decoding drops it, the put keeps it (the store judges the bytes).
  const withUnknown = withEmbeddedField(toBinary(BlockSchema, CHAIN[0]!), (99 << 3) | 2, Uint8Array.of(1, 2, 3));
  const blocksMsg = withEmbeddedField(new Uint8Array(0), 0x0a, withUnknown);
  const envelope = withEmbeddedField(toBinary(EnvelopeSchema, create(EnvelopeSchema, { requestId: 3 })), (17 << 3) | 2, blocksMsg);
  const res = decodePeerResponse(withEmbeddedField(new Uint8Array(0), 0x0a, envelope));
  const [block] = res.result.case === "envelope" && res.result.value.payload.case === "blocks" ? res.result.value.payload.value.blocks : [];
  assert.equal(toBinary(BlockSchema, block!).length, toBinary(BlockSchema, CHAIN[0]!).length, "decoded without the unknown field");
  assert.deepEqual(new Uint8Array(encodePutBlocksRequest(create(PutBlocksRequestSchema, { blocks: [block!] }))), withEmbeddedField(new Uint8Array(0), 0x0a, withUnknown));
  // A request with a block built here (no bytes received): the whole request is encoded, and it decodes to the same blocks.
  const local = create(BlockSchema, CHAIN[2]!);
  const mixed = create(PutBlocksRequestSchema, { blocks: [block!, local] });
  assert.deepEqual(new Uint8Array(encodePutBlocksRequest(mixed)), toBinary(PutBlocksRequestSchema, mixed));
});

test("what is wrong with the peer's envelope is the peer's (MalformedAnswerError); what is wrong around it, our gateway's", () => {
  // Our gateway carries the peer's envelope on undecoded: an entry that is not a Block reaches us.
  const notABlock = withEmbeddedField(new Uint8Array(0), 0x0a, Uint8Array.of(0x0a, 0x01, 0xff));
  const envelope = withEmbeddedField(toBinary(EnvelopeSchema, create(EnvelopeSchema, { requestId: 3 })), (17 << 3) | 2, notABlock);
  assert.throws(() => decodePeerResponse(withEmbeddedField(new Uint8Array(0), 0x0a, envelope)), (e: unknown) => e instanceof MalformedAnswerError && /does not decode/.test(e.message));
  // A block that decodes but breaks a field rule (a 31-byte prev_hash).
  const short = create(BlockSchema, { ...CHAIN[1]!, header: { ...CHAIN[1]!.header!, prevHash: new Uint8Array(31) } });
  assert.throws(() => decodePeerResponse(answer([CHAIN[0]!, short])), (e: unknown) => e instanceof MalformedAnswerError && /blocks\[1\]\.header\.prev_hash is 31 bytes/.test(e.message));
  // The response around it broken (a truncated length): not the peer's.
  assert.throws(() => decodePeerResponse(Uint8Array.of(0x0a, 0x05, 0x00)), (e: unknown) => !(e instanceof MalformedAnswerError));
  // Our gateway's own error answers decode as before.
  const error = toBinary(PeerResponseSchema, create(PeerResponseSchema, { result: { case: "error", value: { code: 2, message: "timeout" } } }));
  assert.equal(decodePeerResponse(error).result.case, "error");
});
