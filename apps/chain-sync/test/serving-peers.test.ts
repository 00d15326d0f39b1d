import { after, test } from "node:test";
import assert from "node:assert/strict";
import { DialRequestSchema, Subjects } from "@timenet/proto";
import { blockHash, DEVNET } from "@timenet/chain";
import { tempDir } from "@timenet/testkit";
import { EncodedChain } from "../bench/encoded-chain.js";
import { startServingPeers } from "../bench/serving-peers.js";
import { buildChain, nodePool, waitHeight } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

// bench:sync --sources serving measures the node against these stand-ins for remote peers: if they stopped
// speaking the protocol the node does (a new handshake, a new message), the bench would hang or measure nothing.
test("a node catches up from the sync bench's serving peers, to their chain's tip", async () => {
  const chain = buildChain(DEVNET.genesis.header!, 600);
  const dir = await tempDir("serving-peers-");
  const serving = await startServingPeers(["127.0.0.231", "127.0.0.232"], new EncodedChain(chain), dir.path);
  try {
    const n = await node(233);
    await n.startSync();
    for (const e of serving.endpoints) n.bus.publish(Subjects.registryDial, DialRequestSchema, { ip: e.ip, port: e.port, reason: "test" });
    await n.bus.flush();
    await waitHeight(n, 600, 60_000);
    assert.equal(await n.tipHash(), Buffer.from(blockHash(chain.at(-1)!.header!)).toString("hex"));
    // Both links are up and claim the chain's tip: each passed the gateway's handshake with its signed Hello.
    const links = (await n.gatewayGrpc.listConnections({})).connections;
    assert.deepEqual(links.map((c) => [c.ip, c.bestHeight]).sort(), [["127.0.0.231", 600], ["127.0.0.232", 600]]);
  } finally {
    await serving.process.stop();
    await dir.remove();
  }
});
