import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { freePort, startTcpRelay } from "../src/index.js";

async function echoServer(): Promise<{ server: Server; port: number; received: () => number }> {
  let received = 0;
  const server = createServer((s) =>
    s.on("data", (d) => {
      received += d.length;
      s.write(d);
    }),
  );
  const port = await freePort();
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return { server, port, received: () => received };
}

function nextData(s: Socket): Promise<string> {
  return once(s, "data").then(([d]) => (d as Buffer).toString());
}

test("the relay carries bytes both ways; while paused it holds them (none lost) and resume delivers them in order", async () => {
  const echo = await echoServer();
  const relay = await startTcpRelay({ target: { host: "127.0.0.1", port: echo.port } });
  const client = connect(relay.port, relay.host);
  try {
    await once(client, "connect");
    client.write("a");
    assert.equal(await nextData(client), "a");
    relay.pause();
    assert.equal(relay.paused, true);
    client.write("bc");
    // Nothing to await while a path is stalled: a short window shows the bytes are held.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(echo.received(), 1, "held by the relay, not delivered");
    const answer = nextData(client);
    relay.resume();
    assert.equal(await answer, "bc");
  } finally {
    client.destroy();
    await relay.stop();
    echo.server.close();
  }
});

test("stop closes relayed connections", async () => {
  const echo = await echoServer();
  const relay = await startTcpRelay({ target: { host: "127.0.0.1", port: echo.port } });
  const client = connect(relay.port, relay.host);
  await once(client, "connect");
  const closed = once(client, "close");
  await relay.stop();
  await closed;
  echo.server.close();
});
