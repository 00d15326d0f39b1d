// The Noise channel against peers that lie about who they are, and against
// nodes of the old protocol: real gateways, real sockets.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { DisconnectReason, EnvelopeSchema, HelloSchema, OffenceKind, OffenceSchema, Subjects } from "@timenet/proto";
import { encodeFrame, FrameDecoder } from "@timenet/wire";
import { generateDhKeyPair } from "@timenet/noise";
import { NodeKey } from "@timenet/node-key";
import { waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { createChannelIdentity, type ChannelIdentity } from "../src/channel-identity.js";
import { PREAMBLE } from "../src/secure-channel.js";
import { dialVia, metricValue, nodePool, record, ScriptedPeer, type TestNode } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

/** An honest peer established with `a` from `ip`, answering pings; `untouched()` asserts its link was never closed nor told Goodbye, then closes it. */
async function honestLink(a: TestNode, ip: string): Promise<{ untouched: () => void }> {
  const honest = await ScriptedPeer.dial(a.endpoint, ip);
  honest.answerPings();
  await honest.handshake();
  await waitFor(() => a.gateway.manager.isConnected(ip as PeerIp), { message: "honest peer connected" });
  const connId = a.gateway.manager.get(ip as PeerIp)!.connId;
  return {
    untouched: () => {
      assert.equal(a.gateway.manager.get(ip as PeerIp)?.connId, connId, "the honest link was never closed");
      assert.equal(honest.goodbyes().length, 0);
      honest.close();
    },
  };
}

/** A channel identity whose payload claims `nodeId` with `signature` (instead of our key's signature over our static key). */
function forged(local = ScriptedPeer.identity(), nodeId: Uint8Array, signature: Uint8Array): ChannelIdentity {
  const real = createChannelIdentity(local.key, local.network, local.genesisHash);
  return { ...real, identityPayload: Buffer.concat([nodeId, signature]) };
}

async function refusedAsUnauthenticated(a: TestNode, from: string, identity: ChannelIdentity): Promise<void> {
  const before = await metricValue(a.gateway, "timenet_gateway_authentication_failures_total", { stage: "handshake" });
  const p = await ScriptedPeer.connect(a.endpoint, from, ScriptedPeer.identity(), { channelIdentity: identity });
  await p.waitClosed();
  // Our side opened after message 2; the gateway never did: not one frame came from it.
  assert.equal(p.frames.length, 0, "the gateway never completed the handshake");
  assert.equal(await metricValue(a.gateway, "timenet_gateway_authentication_failures_total", { stage: "handshake" }), before + 1);
  assert.equal(a.gateway.manager.isConnected(from as PeerIp), false);
}

describe("identity in the Noise handshake", () => {
  test("someone else's node id (its genuine signature, our static key), or a forged signature, fails the handshake and blames nobody", async () => {
    const a = await node(216);
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    // The victim's real identity payload, as any observer of its handshakes
    // could have recorded it: signed over the victim's static key, not ours.
    const victim = createChannelIdentity(NodeKey.generate(), "devnet", new Uint8Array(32));
    await refusedAsUnauthenticated(a, "127.0.0.217", forged(undefined, victim.identityPayload.subarray(0, 32), victim.identityPayload.subarray(32)));
    // The victim's id with a signature made by another key over our own static key.
    const impostor = NodeKey.generate();
    const ours = generateDhKeyPair();
    const sig = impostor.sign(Buffer.concat([Buffer.from("timenet/noise-static-key/v2"), ours.publicKey]));
    await refusedAsUnauthenticated(a, "127.0.0.217", { ...forged(undefined, victim.identityPayload.subarray(0, 32), sig), staticKey: ours });
    await a.bus.flush();
    assert.deepEqual(offences, []);
  });

  test("the small-order key 01 00..00 with R = identity, S = 0 (valid for every message in OpenSSL) fails the handshake", async () => {
    const a = await node(218);
    const identityPoint = Buffer.alloc(32);
    identityPoint[0] = 1;
    const rIdentityS0 = Buffer.concat([identityPoint, Buffer.alloc(32)]);
    await refusedAsUnauthenticated(a, "127.0.0.219", forged(undefined, identityPoint, rIdentityS0));
    // A Hello from that key cannot get in either: there is no channel to carry it.
    assert.equal(await metricValue(a.gateway, "timenet_gateway_peers"), 0);
  });

  test("a connection carries the node id its handshake proved, and says it is encrypted", async () => {
    const a = await node(220);
    const key = NodeKey.generate();
    const p = await ScriptedPeer.dial(a.endpoint, "127.0.0.221", ScriptedPeer.identity({ key }));
    p.answerPings();
    await p.handshake();
    await waitFor(() => a.gateway.manager.isConnected("127.0.0.221" as PeerIp), { message: "connected" });
    const conn = a.gateway.manager.get("127.0.0.221" as PeerIp)!;
    assert.deepEqual(Buffer.from(conn.secureSession!.remoteNodeId), Buffer.from(key.publicKey));
    assert.equal(conn.secureSession!.otherNetwork, false);
    p.close();
  });
});

describe("a node of protocol 1", () => {
  /** What a protocol-1 node sends first: its plaintext Hello frame. */
  const v1Hello = () =>
    encodeFrame(
      create(EnvelopeSchema, {
        payload: { case: "hello", value: { protocolVersion: 1, network: "devnet", nodeId: NodeKey.generate().publicKey, nonce: new Uint8Array(16), signature: new Uint8Array(64) } },
      }),
    );

  test("dialling us, it reads our preamble as Goodbye{BAD_VERSION} saying to upgrade; we close as bad_version, no offence", async () => {
    const a = await node(222);
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    const old = connect({ host: a.ip, port: a.endpoint.port, localAddress: "127.0.0.223" });
    old.on("error", () => undefined);
    const decoder = new FrameDecoder();
    const got: ReturnType<FrameDecoder["push"]> = [];
    old.on("data", (c: Buffer) => got.push(...decoder.push(c)));
    await new Promise((r) => old.once("connect", r));
    old.write(v1Hello());
    await new Promise((r) => old.once("close", r));
    // The protocol-1 decoder sees exactly one frame: a Goodbye it understands.
    assert.equal(got.length, 1);
    const bye = got[0]!.envelope.payload;
    assert.equal(bye.case, "goodbye");
    assert.equal(bye.case === "goodbye" && bye.value.reason, DisconnectReason.BAD_VERSION);
    assert.match(bye.case === "goodbye" ? bye.value.message : "", /upgrade/);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_disconnects_total", { reason: "bad_version" }), 1);
    await a.bus.flush();
    assert.deepEqual(offences, []);
  });

  test("dialled by us, it answers with its Hello: we close as bad_version (its operator must upgrade), no offence", async () => {
    const a = await node(224);
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    const received: Buffer[] = [];
    const server = createServer((s: Socket) => {
      s.on("error", () => undefined);
      s.on("data", (c: Buffer) => received.push(c));
      s.write(v1Hello());
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.225", r));
    const port = (server.address() as { port: number }).port;
    const oldNode = { ip: "127.0.0.225" as PeerIp, gateway: { p2pPort: port } } as unknown as TestNode;
    await dialVia(a, oldNode);
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_disconnects_total", { reason: "bad_version" })) === 1, { message: "closed as bad_version" });
    // It got our preamble first (a refusal in its own framing) before anything else of ours.
    assert.deepEqual(Buffer.concat(received).subarray(0, PREAMBLE.length), PREAMBLE);
    await a.bus.flush();
    assert.deepEqual(offences, []);
    server.close();
  });
});

describe("strangers before the channel opens", () => {
  test("an oversized handshake message, a non-timenet banner, and silence after the preamble: closed, unblamed, and an honest link beside them untouched", async () => {
    const a = await node(226, { handshakeTimeoutMs: 500 });
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    // The honest peer, established and answering pings throughout.
    const { untouched } = await honestLink(a, "127.0.0.227");

    const stranger = async (bytes: Buffer) => {
      const s = connect({ host: a.ip, port: a.endpoint.port, localAddress: "127.0.0.228" });
      s.on("error", () => undefined);
      s.on("data", () => undefined);
      await new Promise((r) => s.once("connect", r));
      s.write(bytes);
      await new Promise((r) => s.once("close", r));
    };
    // Too big: the preamble, then a handshake message declaring 60 000 bytes (only its header is sent).
    await stranger(Buffer.concat([PREAMBLE, Buffer.from([0xea, 0x60])]));
    // Not timenet at all (an SSH server's banner read as a frame length).
    await stranger(Buffer.from("SSH-2.0-OpenSSH_9.2p1\r\n"));
    // Too slow: the preamble, then nothing (the Noise stage times out).
    await stranger(PREAMBLE);

    assert.equal(await metricValue(a.gateway, "timenet_gateway_disconnects_total", { reason: "authentication_failed", initiator: "local" }), 2);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_disconnects_total", { reason: "handshake_timeout", initiator: "local" }), 1);
    await a.bus.flush();
    assert.deepEqual(offences, [], "nothing before authentication is an offence");
    untouched();
  });
});

describe("the Hellos in the handshake messages (protocol 3)", () => {
  test("a bit changed on the path in the message carrying a Hello fails authentication and blames nobody; a Hello replayed from an earlier connection is BAD_SIGNATURE; an honest link beside them is untouched", async () => {
    const a = await node(230);
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    const { untouched } = await honestLink(a, "127.0.0.231");

    // On the path: one bit of message 3 (the dialler's identity and Hello, the socket's second write) flipped in flight.
    const socket = connect({ host: a.ip, port: a.endpoint.port, localAddress: "127.0.0.232" });
    await new Promise((r) => socket.once("connect", r));
    const write = socket.write.bind(socket);
    let writes = 0;
    socket.write = ((bytes: Uint8Array) => {
      const copy = Buffer.from(bytes);
      const at = copy.length - 20;
      if (++writes === 2) copy[at] = copy[at]! ^ 0x01;
      return write(copy);
    }) as typeof socket.write;
    const tampered = new ScriptedPeer(socket, ScriptedPeer.identity());
    await tampered.waitClosed();
    assert.equal(tampered.frames.length, 0, "the gateway never established the link (not even a Goodbye: no channel)");
    assert.equal(await metricValue(a.gateway, "timenet_gateway_authentication_failures_total", { stage: "handshake" }), 1);

    // Replayed: the same key's genuine Hello, signed for an earlier connection's handshake hash.
    const key = NodeKey.generate();
    const first = await ScriptedPeer.dial(a.endpoint, "127.0.0.233", ScriptedPeer.identity({ key }));
    const recorded = first.sentHello!;
    first.close();
    await waitFor(() => !a.gateway.manager.isConnected("127.0.0.233" as PeerIp), { message: "first connection gone" });
    const replayer = await ScriptedPeer.dial(a.endpoint, "127.0.0.233", ScriptedPeer.identity({ key }), { hello: () => recorded });
    await replayer.waitClosed();
    assert.equal(replayer.goodbyeReason(), DisconnectReason.BAD_SIGNATURE);

    // The replay is the key holder's own doing (message 3 authenticated it); the flipped bit is nobody's.
    await waitFor(() => offences.length > 0, { message: "the replay reported" });
    await a.bus.flush();
    assert.deepEqual(
      offences.map((o) => [o.ip, o.kind]),
      [["127.0.0.233", OffenceKind.BAD_SIGNATURE]],
      "one offence, against the replaying key's address only",
    );
    untouched();
  });

  test("a Hello over 2 KiB inside a handshake message within its 4 KiB is PROTOCOL_ERROR, an offence of that key's address alone; an honest link beside it is untouched", async () => {
    const a = await node(235);
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    const { untouched } = await honestLink(a, "127.0.0.236");

    // A genuine Hello, signed for this connection, grown past its 2 KiB bound by a field the signature does not cover (one
    // this version does not know); the whole message 3 (identity, Hello, tags) stays under the 4,096 bytes a handshake message may be.
    const padding = new BinaryWriter().tag(1000, WireType.LengthDelimited).bytes(new Uint8Array(2_800)).finish();
    const oversized = await ScriptedPeer.dial(a.endpoint, "127.0.0.237", undefined, { hello: (peer, binding) => Buffer.concat([toBinary(HelloSchema, peer.hello(binding)), padding]) });
    await oversized.waitClosed();
    assert.equal(oversized.goodbyeReason(), DisconnectReason.PROTOCOL_ERROR);
    assert.equal(oversized.frames.filter((f) => f.payload.case !== "goodbye").length, 0, "nothing but the Goodbye reached it");

    await waitFor(() => offences.length > 0, { message: "the oversized Hello reported" });
    await a.bus.flush();
    assert.deepEqual(
      offences.map((o) => [o.ip, o.kind]),
      [["127.0.0.237", OffenceKind.PROTOCOL_VIOLATION]],
    );
    untouched();
  });
});
