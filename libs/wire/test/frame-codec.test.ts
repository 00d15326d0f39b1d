import { test } from "node:test";
import assert from "node:assert/strict";
import { create, equals } from "@bufbuild/protobuf";
import { EnvelopeSchema, type Envelope } from "@timenet/proto";
import { encodeFrame, envelopeKindLabel, FrameDecoder, FrameError } from "../src/index.js";

function sample(): Envelope[] {
  return [
    create(EnvelopeSchema, { payload: { case: "ping", value: { nonce: 42n } } }),
    create(EnvelopeSchema, { requestId: 7, payload: { case: "getBlocks", value: { fromHeight: 100, count: 128 } } }),
    create(EnvelopeSchema, { payload: { case: "tx", value: { data: new Uint8Array(5000).fill(9) } } }),
    create(EnvelopeSchema, {
      payload: {
        case: "hello",
        value: { protocolVersion: 1, network: "devnet", genesisHash: new Uint8Array(32).fill(1), bestHeight: 2480, listenPort: 24100 },
      },
    }),
    create(EnvelopeSchema, { payload: { case: "goodbye", value: { reason: 3, message: "duplicate" } } }),
    create(EnvelopeSchema, {}), // empty payload: still a frame (an unknown future kind looks like this)
  ];
}

function stream(envs: Envelope[]): Buffer {
  return Buffer.concat(envs.map(encodeFrame));
}

function assertSame(got: Envelope[], want: Envelope[]): void {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => assert.ok(equals(EnvelopeSchema, g, want[i]!), `frame ${i} differs`));
}

test("round trip: many frames in one chunk", () => {
  const want = sample();
  const frames = new FrameDecoder().push(stream(want));
  assertSame(
    frames.map((f) => f.envelope),
    want,
  );
  assert.equal(
    frames.reduce((n, f) => n + f.size, 0),
    stream(want).length,
  );
  // The raw body is the encoded envelope, ready to forward as is.
  frames.forEach((f, i) => assert.deepEqual(Buffer.from(f.body), encodeFrame(want[i]!).subarray(4)));
});

test("any split of the stream yields the same messages: 1 byte at a time", () => {
  const want = sample();
  const bytes = stream(want);
  const d = new FrameDecoder();
  const got: Envelope[] = [];
  for (let i = 0; i < bytes.length; i++) got.push(...d.push(bytes.subarray(i, i + 1)).map((f) => f.envelope));
  assertSame(got, want);
  assert.equal(d.bufferedBytes, 0);
});

test("any split of the stream yields the same messages: random chunk sizes", () => {
  const want = sample();
  const bytes = stream([...want, ...want, ...want]);
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 50; round++) {
    const d = new FrameDecoder();
    const got: Envelope[] = [];
    for (let i = 0; i < bytes.length; ) {
      const n = 1 + Math.floor(rand() * 700);
      got.push(...d.push(bytes.subarray(i, i + n)).map((f) => f.envelope));
      i += n;
    }
    assertSame(got, [...want, ...want, ...want]);
  }
});

test("an oversized declared length fails before the body arrives", () => {
  const d = new FrameDecoder(1024);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(1025);
  // Only the header: the decoder must not wait for (or allocate) 1025 bytes.
  assert.throws(() => d.push(header), (err: unknown) => err instanceof FrameError && err.code === "FRAME_TOO_LARGE");
  assert.equal(d.bufferedBytes, 0);
  // Once failed, the stream stays failed.
  assert.throws(() => d.push(Buffer.from([0])), { code: "FRAME_TOO_LARGE" });
  // 4 GiB - 1 declared: same, at once.
  assert.throws(() => new FrameDecoder().push(Buffer.from([0xff, 0xff, 0xff, 0xff])), { code: "FRAME_TOO_LARGE" });
});

test("a frame at exactly the maximum is accepted", () => {
  const env = create(EnvelopeSchema, { payload: { case: "tx", value: { data: new Uint8Array(1000) } } });
  const frame = encodeFrame(env);
  const got = new FrameDecoder(frame.length - 4).push(frame);
  assert.equal(got.length, 1);
});

test("garbage that does not decode closes with BAD_FRAME", () => {
  const body = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  const frame = Buffer.concat([Buffer.from([0, 0, 0, body.length]), body]);
  const d = new FrameDecoder();
  assert.throws(() => d.push(frame), { code: "BAD_FRAME" });
  // A good frame before the garbage in the same chunk is not lost, but the
  // error is what the caller sees; the stream is dead afterwards.
  assert.throws(() => d.push(encodeFrame(sample()[0]!)), { code: "BAD_FRAME" });
});

test("a truncated frame yields nothing and stays buffered", () => {
  const frame = encodeFrame(sample()[2]!);
  const d = new FrameDecoder();
  assert.deepEqual(d.push(frame.subarray(0, frame.length - 1)), []);
  assert.equal(d.bufferedBytes, frame.length - 1);
  assert.equal(d.push(frame.subarray(frame.length - 1)).length, 1);
});

test("kind labels are snake_case", () => {
  assert.equal(envelopeKindLabel(sample()[1]!), "get_blocks");
  assert.equal(envelopeKindLabel(sample()[5]!), "unknown");
});

test("the admission prices each frame from its head, for any split of the stream; skipped frames are discarded unread", () => {
  const envs = sample();
  const bytes = stream(envs);
  for (const step of [1, 2, 3, 7, 13, 64, bytes.length]) {
    const heads: string[] = [];
    const skipped: string[] = [];
    const got: Envelope[] = [];
    // Tx frames skipped, everything else decoded: the decision is made before the body is buffered.
    const d = new FrameDecoder(1 << 20, (head, length) => {
      heads.push(`${head.kind ?? "none"}:${length}:${head.requestId}`);
      return head.kind === "tx" ? { action: "skip", why: "test" } : { action: "decode" };
    });
    for (let i = 0; i < bytes.length; i += step) {
      d.feed(bytes.subarray(i, i + step), { frame: (f) => got.push(f.envelope), skipped: (h) => skipped.push(h.kind ?? "none") });
      assert.ok(d.bufferedBytes <= 200, `split ${step}: ${d.bufferedBytes} bytes held (a skipped 5000-byte tx must not be buffered)`);
    }
    assertSame(got, envs.filter((e) => e.payload.case !== "tx"));
    assert.deepEqual(skipped, ["tx"]);
    assert.equal(heads[1], "getBlocks:" + (encodeFrame(envs[1]!).length - 4) + ":7");
  }
});

test("a prefix verdict hands on the frame's first bytes, once per frame, and discards the rest unbuffered, for any split of the stream", () => {
  const envs = sample();
  const bytes = stream(envs);
  const txBody = encodeFrame(envs[2]!).subarray(4);
  for (const step of [1, 2, 3, 7, 13, 64, bytes.length]) {
    const verdicts: string[] = [];
    const prefixes: Array<{ bytes: Buffer; size: number; why: string }> = [];
    const got: Envelope[] = [];
    // The 5000-byte tx read only for its first 20 bytes.
    const d = new FrameDecoder(1 << 20, (head) => {
      verdicts.push(head.kind ?? "none");
      return head.kind === "tx" ? { action: "prefix", bytes: 20, why: "test" } : { action: "decode" };
    });
    for (let i = 0; i < bytes.length; i += step) {
      d.feed(bytes.subarray(i, i + step), { frame: (f) => got.push(f.envelope), prefix: (_h, p, size, why) => prefixes.push({ bytes: Buffer.from(p), size, why }) });
      assert.ok(d.bufferedBytes <= 200, `split ${step}: ${d.bufferedBytes} bytes held (the tx's rest must not be buffered)`);
    }
    assert.deepEqual(verdicts, ["ping", "getBlocks", "tx", "hello", "goodbye", "none"], `split ${step}: one verdict per frame`);
    assertSame(got, envs.filter((e) => e.payload.case !== "tx"));
    assert.deepEqual(prefixes, [{ bytes: Buffer.from(txBody.subarray(0, 20)), size: txBody.length + 4, why: "test" }]);
  }
});

test("a refusal from the head ends the stream before the body arrives; the shape check stops at the first excess entry", () => {
  const d = new FrameDecoder(1 << 20, () => new FrameError("FRAME_TOO_LARGE", "priced out"));
  const frame = encodeFrame(create(EnvelopeSchema, { payload: { case: "tx", value: { data: new Uint8Array(1000) } } }));
  assert.throws(() => d.push(frame.subarray(0, 4 + 13)), (e: unknown) => e instanceof FrameError && e.code === "FRAME_TOO_LARGE");
  // 100 000 empty entries where 3 were asked for: refused after the fourth, without decoding any.
  const payload = Buffer.alloc(200_000, Buffer.from([0x0a, 0x00]));
  const body = Buffer.concat([Buffer.from([0x8a, 0x01, 0xc0, 0x9a, 0x0c]), payload]); // field 17, length 200 000
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  const shaped = new FrameDecoder(1 << 20, () => ({ action: "decode", shape: { maxFields: 3 } }));
  assert.throws(() => shaped.push(Buffer.concat([header, body])), (e: unknown) => e instanceof FrameError && e.code === "BAD_FRAME" && /more than 3 fields/.test(e.message));
});

test("only the canonical envelope shape is read: fields out of order, a second payload or padding after it are BAD_FRAME", () => {
  const ping = Buffer.from([0x62, 0x02, 0x08, 0x01]);
  const cases = [
    Buffer.concat([ping, Buffer.from([0x08, 0x05])]), // request_id after the payload
    Buffer.concat([ping, ping]), // two payloads
    Buffer.concat([Buffer.from([0x10, 0x01]), ping]), // an unknown field before it
  ];
  for (const body of cases) {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length);
    assert.throws(() => new FrameDecoder().push(Buffer.concat([header, body])), (e: unknown) => e instanceof FrameError && e.code === "BAD_FRAME");
  }
});

test("the shape check reads nested and length-delimited fields exactly: a real Peers answer of 32 addresses passes a limit of 32", () => {
  const peers = Array.from({ length: 32 }, (_, i) => ({ ip: `10.0.0.${i}`, port: 24100, lastSeenMs: 1_700_000_000_000n }));
  const frame = encodeFrame(create(EnvelopeSchema, { requestId: 9, payload: { case: "peers", value: { peers } } }));
  const ok = new FrameDecoder(1 << 20, () => ({ action: "decode", shape: { maxFields: 32 } }));
  assert.equal(ok.push(frame).length, 1);
  const tight = new FrameDecoder(1 << 20, () => ({ action: "decode", shape: { maxFields: 31 } }));
  assert.throws(() => tight.push(frame), (e: unknown) => e instanceof FrameError && e.code === "BAD_FRAME");
});

test("a forward verdict hands on the frame's bytes undecoded, with its shape checked and its entries counted, for any split of the stream", () => {
  // Blocks whose second entry is not a Block (its field 1, length-delimited, holds a truncated varint): checked
  // for shape only, it is handed on as it came; decoding it would have failed.
  const entries = [Buffer.from([0x10, 0x05]), Buffer.from([0x0a, 0x01, 0xff]), Buffer.from([0x10, 0x06])];
  const payload = Buffer.concat(entries.flatMap((e) => [Buffer.from([0x0a, e.length]), e]));
  const body = Buffer.concat([Buffer.from([0x08, 0x07, 0x8a, 0x01, payload.length]), payload]); // request_id 7, field 17 (blocks)
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  const envs = sample();
  const bytes = Buffer.concat([stream(envs.slice(0, 2)), header, body, stream(envs.slice(2))]);
  const shape = { maxFields: 3, nested: { field: 1, limit: { maxFields: 2 } } };
  for (const step of [1, 2, 3, 7, 13, bytes.length]) {
    const forwarded: Array<{ body: Buffer; size: number; entries: number; requestId: number }> = [];
    const got: Envelope[] = [];
    const d = new FrameDecoder(1 << 20, (head) => (head.kind === "blocks" ? { action: "forward", shape } : { action: "decode" }));
    for (let i = 0; i < bytes.length; i += step) {
      d.feed(bytes.subarray(i, i + step), { frame: (f) => got.push(f.envelope), forwarded: (f) => forwarded.push({ body: Buffer.from(f.body), size: f.size, entries: f.entries, requestId: f.head.requestId }) });
    }
    assertSame(got, envs);
    assert.deepEqual(forwarded, [{ body, size: body.length + 4, entries: 3, requestId: 7 }], `split ${step}`);
  }
  // The shape still holds: four entries where three are allowed end the stream.
  const four = Buffer.concat([payload, Buffer.from([0x0a, 0x00])]);
  const over = Buffer.concat([Buffer.from([0x08, 0x07, 0x8a, 0x01, four.length]), four]);
  const overHeader = Buffer.alloc(4);
  overHeader.writeUInt32BE(over.length);
  const d = new FrameDecoder(1 << 20, () => ({ action: "forward", shape }));
  assert.throws(() => d.feed(Buffer.concat([overHeader, over]), { frame: () => assert.fail("decoded"), forwarded: () => assert.fail("forwarded") }), (e: unknown) => e instanceof FrameError && e.code === "BAD_FRAME");
  // A sink that does not take forwarded frames gets them decoded (here: they do not decode).
  assert.throws(() => new FrameDecoder(1 << 20, () => ({ action: "forward", shape })).push(Buffer.concat([header, body])), (e: unknown) => e instanceof FrameError && e.code === "BAD_FRAME");
});
