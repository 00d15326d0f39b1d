// The Noise channel alone, in the same run as the relay bench: handshakes
// per second on one core, a stream of small frames and one 8 MiB frame
// through the channel, each beside a baseline measured here and now.
import { createServer, connect, type Socket } from "node:net";
import { once } from "node:events";
import { create } from "@bufbuild/protobuf";
import { EnvelopeSchema } from "@timenet/proto";
import { encodeFrame, FrameDecoder } from "@timenet/wire";
import { diffieHellman, generateKeyPairSync } from "node:crypto";
import { NodeKey } from "@timenet/node-key";
import { createChannelIdentity, type ChannelIdentity } from "../src/channel-identity.js";
import { SecureChannel, type ChannelRole } from "../src/secure-channel.js";

const GENESIS = new Uint8Array(32).fill(1);
const HELLO_STAND_IN = new Uint8Array(300);

/** Two channels wired to each other in memory (bytes delivered in turn, as sockets would); both open on return. */
function channelPair(a = createChannelIdentity(NodeKey.generate(), "bench", GENESIS), b = createChannelIdentity(NodeKey.generate(), "bench", GENESIS)) {
  let opened = 0;
  const inbox: Record<ChannelRole, Buffer[]> = { initiator: [], responder: [] };
  const make = (role: ChannelRole, peer: ChannelRole, identity: ChannelIdentity) =>
    new SecureChannel(
      {
        write: (bytes) => void inbox[peer].push(bytes),
        // A Hello's size in messages 2 and 3 (its signing and checking are the connection's, not the channel's).
        helloFor: () => HELLO_STAND_IN,
        opened: () => void opened++,
        failed: (_r, detail) => {
          throw new Error(detail);
        },
      },
      { role, identity },
    );
  const ends = { initiator: make("initiator", "responder", a), responder: make("responder", "initiator", b) };
  ends.responder.start();
  ends.initiator.start();
  while (inbox.initiator.length + inbox.responder.length > 0) {
    for (const role of ["responder", "initiator"] as const) {
      const bytes = inbox[role].splice(0);
      for (const chunk of bytes) ends[role].push(chunk);
    }
  }
  if (opened !== 2) throw new Error("handshake did not complete");
  return ends;
}

function rate(n: number, t0: bigint): number {
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** Complete XX handshakes per second, both ends' work on this one core (identities fixed, as in a process). */
export function handshakesPerSecond(ms = 2_000): { handshakes: number; dhPerSec: number } {
  const a = createChannelIdentity(NodeKey.generate(), "bench", GENESIS);
  const b = createChannelIdentity(NodeKey.generate(), "bench", GENESIS);
  let n = 0;
  const t0 = process.hrtime.bigint();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    channelPair(a, b);
    n++;
  }
  const handshakes = rate(n, t0);
  // Baseline: OpenSSL's X25519 alone, both keys already parsed (a handshake does 3 per end, each parsing the
  // peer's key, plus key generation and ed25519): what our own key handling costs shows in the ratio.
  const k1 = generateKeyPairSync("x25519");
  const k2 = generateKeyPairSync("x25519");
  let m = 0;
  const t1 = process.hrtime.bigint();
  const end1 = Date.now() + ms / 2;
  while (Date.now() < end1) {
    diffieHellman({ privateKey: k1.privateKey, publicKey: k2.publicKey });
    m++;
  }
  return { handshakes, dhPerSec: rate(m, t1) };
}

/** MB/s of one frame of `bytes` sealed, opened and decoded in memory, against encode + decode alone. */
export function bigFrame(bytes = 8 * 1024 * 1024, repeats = 10): { encryptedMBps: number; plainMBps: number } {
  const frame = encodeFrame(create(EnvelopeSchema, { payload: { case: "tx", value: { data: new Uint8Array(bytes - 16).fill(7) } } }));
  const ends = channelPair();
  const decoder = new FrameDecoder(16 * 1024 * 1024);
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < repeats; i++) {
    for (const pt of ends.responder.push(ends.initiator.seal(frame))) {
      if (decoder.push(pt).length > 1) throw new Error("decoder");
    }
  }
  const encryptedMBps = (rate(repeats, t0) * frame.length) / 1e6;
  const plain = new FrameDecoder(16 * 1024 * 1024);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < repeats; i++) {
    // The same frame cut into 64 KiB reads, as a socket delivers it.
    for (let at = 0; at < frame.length; at += 65_536) plain.push(frame.subarray(at, at + 65_536));
  }
  const plainMBps = (rate(repeats, t0) * frame.length) / 1e6;
  return { encryptedMBps, plainMBps };
}

/** Frames/s of `count` frames of `size` bytes over a real loopback socket, through the channel or in the clear. */
export async function transportFramesPerSecond(encrypted: boolean, count = 100_000, size = 256): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const client = connect({ host: "127.0.0.1", port: (server.address() as { port: number }).port });
  const [[srv]] = await Promise.all([accepted, once(client, "connect")]);
  let ends: { initiator: SecureChannel; responder: SecureChannel } | undefined;
  if (encrypted) ends = channelPair();
  const decoder = new FrameDecoder();
  let got = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  srv.on("data", (chunk: Buffer) => {
    const pts = ends ? ends.responder.push(chunk) : [chunk];
    for (const pt of pts) got += decoder.push(pt).length;
    if (got >= count) done();
  });
  const frame = encodeFrame(create(EnvelopeSchema, { payload: { case: "tx", value: { data: new Uint8Array(size).fill(1) } } }));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    // One transport message per frame: the gateway's worst case (a peer that never batches).
    const ok = client.write(ends ? ends.initiator.seal(frame) : frame);
    if (!ok) await once(client, "drain");
  }
  await finished;
  const fps = rate(count, t0);
  client.destroy();
  srv.destroy();
  server.close();
  return fps;
}
