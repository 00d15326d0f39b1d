import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { ByteQueue } from "../src/index.js";

test("bytes come out in order, whatever the chunks they went in as and the sizes read", () => {
  for (let round = 0; round < 50; round++) {
    const data = randomBytes(5_000);
    const q = new ByteQueue();
    for (let at = 0; at < data.length; ) {
      const n = Math.min(data.length - at, 1 + Math.floor(Math.random() * 300));
      q.push(data.subarray(at, at + n));
      at += n;
    }
    assert.equal(q.length, data.length);
    const out: Buffer[] = [];
    let read = 0;
    while (q.length > 0) {
      const n = Math.min(q.length, 1 + Math.floor(Math.random() * 700));
      assert.deepEqual(q.peek(n), data.subarray(read, read + n), "peek leaves the bytes in place");
      out.push(Buffer.from(q.take(n)));
      read += n;
      assert.equal(q.length, data.length - read);
    }
    assert.deepEqual(Buffer.concat(out), data);
  }
});

test("empty pushes and reads change nothing; takeAll and clear empty it", () => {
  const q = new ByteQueue();
  q.push(new Uint8Array(0));
  assert.equal(q.length, 0);
  assert.equal(q.take(0).length, 0);
  q.push(Buffer.from("ab"));
  q.push(Buffer.from("cd"));
  assert.equal(q.takeAll().toString(), "abcd");
  q.push(Buffer.from("x"));
  q.clear();
  assert.equal(q.length, 0);
});
