import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import { listeningPort } from "../src/index.js";

test("the port a server listens on, the one the OS chose for port 0; asking before it listens is an error", async () => {
  const server = createServer();
  assert.throws(() => listeningPort(server), /not listening on a TCP port/);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    const port = listeningPort(server);
    assert.ok(port > 0);
    const again = createServer();
    again.listen(port, "127.0.0.1");
    const [err] = (await once(again, "error")) as [NodeJS.ErrnoException];
    assert.equal(err.code, "EADDRINUSE", "the port named is the one held");
  } finally {
    server.close();
  }
});
