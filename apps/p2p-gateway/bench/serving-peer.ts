// SERVING_CHAIN=FILE SERVING_LISTEN=IP:PORT[,IP:PORT] [SERVING_MAX_BYTES=B] node apps/p2p-gateway/dist/bench/serving-peer.js
// Source peers for a sync bench that cost its machine next to nothing: one
// process, a listener per source (each its own node key), speaking the real
// protocol as the acceptor (Noise XX, its Hello in message 2 claiming the
// chain's tip) and answering GetBlocks from the chain file's bytes, Ping with
// Pong, GetPeers with no peers. Everything else a node sends is read and
// dropped. Four full source nodes (gateway, store, NATS each) spend ~120 ms of
// the bench machine's CPU per 1,000 blocks served; on a real network that is
// other machines' CPU, and these stand for such peers. Configured by its
// environment as the services are (a bench starts it with startServiceProcess);
// ends on SIGTERM.
import { createServer, type Server } from "node:net";
import { create, fromBinary } from "@bufbuild/protobuf";
import { BlockSchema, EnvelopeSchema, type Envelope } from "@timenet/proto";
import { blockHash } from "@timenet/chain";
import { blocksEntryBytes, encodeBlocksEnvelope, encodedFrame } from "@timenet/wire";
import { readBlockFile, type EncodedBlocks } from "@timenet/testkit";
import { ScriptedPeer } from "../test/harness.js";

const fail = (message: string): never => {
  process.stderr.write(`serving-peer: ${message}\n`);
  process.exit(2);
};
const { SERVING_CHAIN, SERVING_LISTEN, SERVING_MAX_BYTES } = process.env;
if (!SERVING_CHAIN || !SERVING_LISTEN) fail("SERVING_CHAIN (a block file) and SERVING_LISTEN (IP:PORT[,IP:PORT]) are required");
// A block-store's SERVE_MAX_BYTES: bytes of the Blocks message in one answer, the first block whatever its size.
const MAX_BYTES = Number(SERVING_MAX_BYTES ?? 4 * 1024 * 1024);
if (!Number.isInteger(MAX_BYTES) || MAX_BYTES < 1) fail(`SERVING_MAX_BYTES must be a whole number of bytes, not "${SERVING_MAX_BYTES}"`);
const chain: EncodedBlocks = readBlockFile(SERVING_CHAIN!);
const height = chain.offsets.length - 1;
const block = (h: number) => chain.bytes.subarray(chain.offsets[h - 1], chain.offsets[h]);
const tip = { height, hash: blockHash(fromBinary(BlockSchema, block(height)).header!) };

/** The Blocks answer to GetBlocks{from, count}: the blocks' bytes spliced in, never encoded again. */
function blocksAnswer(requestId: number, from: number, count: number): Buffer {
  const entries: Uint8Array[] = [];
  let bytes = 0;
  for (let h = Math.max(1, from); h <= Math.min(height, from + count - 1); h++) {
    const b = block(h);
    const size = blocksEntryBytes(b.length);
    if (entries.length > 0 && bytes + size > MAX_BYTES) break;
    entries.push(b);
    bytes += size;
  }
  return encodedFrame(encodeBlocksEnvelope(requestId, entries));
}

function answer(peer: ScriptedPeer, e: Envelope): void {
  const p = e.payload;
  if (p.case === "getBlocks") peer.socket.write(peer.channel.seal(blocksAnswer(e.requestId, p.value.fromHeight, p.value.count)));
  else if (p.case === "ping") peer.send(create(EnvelopeSchema, { payload: { case: "pong", value: { nonce: p.value.nonce } } }));
  else if (p.case === "getPeers") peer.send(create(EnvelopeSchema, { requestId: e.requestId, payload: { case: "peers", value: {} } }));
}

const servers: Server[] = [];
for (const address of SERVING_LISTEN!.split(",")) {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  const identity = { ...ScriptedPeer.identity(), listenPort: port, tip: () => tip };
  const server = createServer({ noDelay: true }, (socket) => {
    const peer = new ScriptedPeer(socket, identity, "responder");
    // After the peer's own handler (it decodes into `frames`): answered in order, then forgotten.
    socket.on("data", () => {
      for (const e of peer.frames.splice(0)) answer(peer, e);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  servers.push(server);
}
process.once("SIGTERM", () => {
  for (const s of servers) s.close();
  process.exit(0);
});
