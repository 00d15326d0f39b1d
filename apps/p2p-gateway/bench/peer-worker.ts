// The bench's peer in its own thread, as a remote peer is on its own host:
// its sealing does not run on the gateway's event loop. It dials, completes
// the handshake, then sends what each plan asks, sealing what it sends in one
// turn into one transport message (as a gateway does) or every frame alone.
import { parentPort, workerData } from "node:worker_threads";
import { once } from "node:events";
import { create } from "@bufbuild/protobuf";
import { EnvelopeSchema } from "@timenet/proto";
import { encodeFrame } from "@timenet/wire";
import { ScriptedPeer } from "../test/harness.js";
import { runPlan, type SendPlan } from "./bench-sender.js";

const { ip, port, localAddress } = workerData as { ip: string; port: number; localAddress: string };
const peer = await ScriptedPeer.dial({ ip: ip as never, port }, localAddress);
await peer.handshake();
peer.socket.setNoDelay(true); // as the gateway's own sockets
peer.socket.on("data", () => peer.frames.splice(0)); // pings are not answered: the ping interval is long

let pending: Buffer[] = [];
const flush = () => {
  if (pending.length === 0) return;
  const plaintext = Buffer.concat(pending);
  pending = [];
  peer.socket.write(peer.channel.seal(plaintext));
};
const frame = (data: Uint8Array) => encodeFrame(create(EnvelopeSchema, { payload: { case: "tx", value: { data } } }));
const drain = () => (peer.socket.writableLength === 0 ? Promise.resolve() : once(peer.socket, "drain").then(() => undefined));

parentPort!.on("message", async (m: { plan: SendPlan; sealEach: boolean } | "close") => {
  if (m === "close") {
    peer.close();
    parentPort!.close();
    return;
  }
  const send = m.sealEach
    ? (data: Uint8Array) => peer.socket.write(peer.channel.seal(frame(data)))
    : (data: Uint8Array) => {
        if (pending.length === 0) queueMicrotask(flush);
        pending.push(frame(data));
        return peer.socket.writableLength < 1024 * 1024;
      };
  await runPlan(m.plan, send, drain);
  parentPort!.postMessage("sent");
});
parentPort!.postMessage("ready");
