// An attacker on the path between two honest nodes: a real TCP relay between
// real gateways (each with its real registry), which flips a bit, injects a
// length header or a plaintext Goodbye, replays a recorded session, or
// answers a dial with the dialler's own recorded handshake. Whatever it does,
// the link closes as AUTHENTICATION_FAILED at worst, nobody records an
// offence, no IP is penalised or marked as ourselves, the registries
// reconnect, and what the relay saw names nothing of the network.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { BroadcastSchema, ChainTipSchema, DisconnectReason, EnvelopeSchema, OffenceSchema, PeerMessageSchema, Subjects } from "@timenet/proto";
import { freePort, startTcpRelay, waitFor, type RelayLink, type TcpRelay } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { gatewayMetric, gatewayPeers, nodePool, type TestNode } from "./harness.js";

const { node, stopAll } = nodePool();
const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
  await stopAll();
});


function record<T>(n: TestNode, subject: string, schema: Parameters<TestNode["bus"]["subscribe"]>[1]): T[] {
  const got: T[] = [];
  n.bus.subscribe(subject, schema, (m) => void got.push(m as T));
  return got;
}

/** A plaintext frame as protocol 1 wrote them: what an on-path attacker can forge without keys. */
function clearFrame(payload: Parameters<typeof create<typeof EnvelopeSchema>>[1]): Buffer {
  const body = toBinary(EnvelopeSchema, create(EnvelopeSchema, payload));
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length);
  out.set(body, 4);
  return out;
}

async function peerRecord(n: TestNode, ip: string) {
  return (await n.registryClient().getPeer({ ip })).peer!;
}

describe("on the path between two honest nodes", () => {
  // a (higher IP) dials b through the relay. The relay listens on B_SEEN_AS
  // with b's own port (which b's Hello announces, so redials go there too)
  // and forwards to b on another address from a's: a believes it talks to
  // B_SEEN_AS, b sees a's address. b never dials a directly.
  const B_SEEN_AS = "127.0.0.211" as PeerIp;
  let a: TestNode;
  let b: TestNode;
  let relay: TcpRelay;
  let tamper: ((chunk: Buffer, dir: "up" | "down", link: RelayLink) => Buffer | undefined) | undefined;
  const offences: unknown[][] = [];

  async function waitLink(timeoutMs = 15_000): Promise<void> {
    await waitFor(async () => (await gatewayPeers(a)).has(B_SEEN_AS) && (await gatewayPeers(b)).has(a.ip), { timeoutMs, intervalMs: 50, message: "a <-> b linked" });
  }

  /**
   * Nothing held against anyone: no offence on either bus, score 0 and no ban
   * in either registry. Each registry learns of the link from its gateway's
   * state by a KV watch, after the gateway: its record is read once it holds
   * the gateway's connection (a slow watch is not a blame).
   */
  async function nobodyBlamed(): Promise<void> {
    await Promise.all([a.bus.flush(), b.bus.flush()]);
    assert.deepEqual(offences, [[], []], "no offence reported");
    for (const [n, other] of [[a, B_SEEN_AS], [b, a.ip]] as const) {
      const connId = (await gatewayPeers(n)).get(other)?.connId;
      const p = await waitFor(async () => {
        const r = await peerRecord(n, other).catch(() => undefined);
        return r !== undefined && r.connId === connId && r;
      }, { message: `${n.ip}'s registry holds its gateway's connection ${connId} to ${other}` });
      assert.equal(p.score, 0, `${n.ip} holds nothing against ${other}`);
      assert.equal(p.banUntilMs, 0n);
      assert.equal(p.isSelf, false);
    }
  }

  test("setup: a dials b through the relay and the link is established", async () => {
    const port = await freePort(B_SEEN_AS);
    // b never dials (no fill, no passive timeout): a dial from b would reach a directly, and a would then hold b under two IPs.
    b = await node(215, { p2pPort: port, registry: { passiveWaitMs: 600_000, targetOutbound: 0 } });
    relay = await startTcpRelay({
      host: B_SEEN_AS,
      port,
      target: { host: b.ip, port: b.p2pPort },
      upstreamLocalAddress: "127.0.0.212",
      capture: true,
      onChunk: (chunk, dir, link) => tamper?.(chunk, dir, link),
    });
    closers.push(() => relay.stop());
    a = await node(212, { registry: { bootstrapPeers: [{ ip: B_SEEN_AS, port }] } });
    offences.push(record(a, Subjects.offence, OffenceSchema), record(b, Subjects.offence, OffenceSchema));
    await waitLink();
    assert.equal(relay.links.length, 1);
  });

  /** Arms one tampering of the live link, waits for the close it causes and for the registries to reconnect. */
  async function strike(name: string, arm: () => void, closedBy: TestNode): Promise<void> {
    // Closes this end decided (the other end may also record the Goodbye it was sent, as initiator "peer").
    const closes = { reason: "authentication_failed", initiator: "local" };
    const before = await gatewayMetric(closedBy, "timenet_gateway_disconnects_total", closes);
    const links = relay.links.length;
    arm();
    await waitFor(async () => (await gatewayMetric(closedBy, "timenet_gateway_disconnects_total", closes)) >= before + 1, {
      timeoutMs: 10_000,
      message: `${name}: closed as authentication_failed by ${closedBy.ip}`,
    });
    tamper = undefined;
    await waitFor(() => relay.links.length > links, { timeoutMs: 10_000, message: `${name}: a redialled` });
    await waitLink();
    await nobodyBlamed();
  }

  test("one flipped bit closes the link as authentication_failed, blames nobody, and a reconnects", async () => {
    await strike(
      "flip",
      () => {
        tamper = (chunk, dir) => {
          if (dir !== "down") return undefined;
          tamper = undefined;
          const out = Buffer.from(chunk);
          out[out.length - 1]! ^= 0x01;
          return out;
        };
      },
      a,
    );
    assert.equal(await gatewayMetric(a, "timenet_gateway_authentication_failures_total", { stage: "transport" }), 1);
  });

  test("an injected length header, and an injected plaintext Goodbye, are authentication failures, not the peer's word", async () => {
    const header = Buffer.from([0, 0, 0, 5]);
    // Into every open link: a redial that lost a duplicate race may not be closed yet, and the last link opened need not be the one in use.
    const open = () => relay.links.filter((l) => !l.closed);
    await strike("length header", () => open().forEach((l) => l.inject("up", header)), b);
    const goodbye = clearFrame({ payload: { case: "goodbye", value: { reason: DisconnectReason.BAD_SIGNATURE, message: "forged" } } });
    await strike("goodbye", () => open().forEach((l) => l.inject("down", goodbye)), a);
    // a never took the forged Goodbye for b's: no peer-initiated bad_signature close anywhere.
    assert.equal(await gatewayMetric(a, "timenet_gateway_disconnects_total", { reason: "bad_signature" }), 0);
  });

  test("a recorded session replayed to b (from a's address) fails; the live link is untouched", async () => {
    const live = (await gatewayPeers(b)).get(a.ip)!;
    assert.ok(live);
    const recorded = Buffer.concat(relay.links[0]!.captured.up);
    const before = await gatewayMetric(b, "timenet_gateway_authentication_failures_total", { stage: "handshake" });
    const replay = connect({ host: b.ip, port: b.p2pPort, localAddress: a.ip });
    replay.on("error", () => undefined);
    await new Promise((r) => replay.once("connect", r));
    replay.write(recorded);
    await waitFor(async () => (await gatewayMetric(b, "timenet_gateway_authentication_failures_total", { stage: "handshake" })) === before + 1, {
      message: "replay refused",
    });
    replay.destroy();
    assert.equal((await gatewayPeers(b)).get(a.ip)?.connId, live.connId, "the honest link stays");
    await nobodyBlamed();
  });

  test("gossip and announcements still cross, and the relay's capture names nothing of the network", async () => {
    const info = await b.gatewayGrpc.getInfo({});
    const tipHash = Buffer.alloc(32, 0xab);
    tipHash.write("block-hash-marker");
    const txs = record<{ envelope?: { payload: { case: string } } }>(a, Subjects.peerIn("tx"), PeerMessageSchema);
    const blocks = record<{ envelope?: { payload: { case: string; value: { hash?: Uint8Array } } } }>(a, Subjects.peerIn("new_block"), PeerMessageSchema);
    await a.bus.flush();
    const txData = Buffer.from("tx-payload-marker");
    b.bus.publish(Subjects.peerOutBroadcast, BroadcastSchema, { envelope: { payload: { case: "tx", value: { data: txData } } } });
    const header = { height: 5, prevHash: new Uint8Array(32), merkleRoot: new Uint8Array(32), timestampMs: BigInt(Date.now()), producerId: new Uint8Array(32), signature: new Uint8Array(64) };
    b.bus.publish(Subjects.chainTip, ChainTipSchema, { height: 5, hash: tipHash, timestampMs: BigInt(Date.now()), genesisHash: info.genesisHash, header });
    await waitFor(() => txs.length === 1 && blocks.length === 1, { message: "tx and announcement reached a" });
    assert.deepEqual(Buffer.from(blocks[0]!.envelope!.payload.value.hash!), tipHash);

    const seen = Buffer.concat(relay.links.flatMap((l) => [...l.captured.up, ...l.captured.down]));
    assert.ok(seen.length > 1_000, "the relay saw whole sessions");
    for (const [what, bytes] of [
      ["network name", Buffer.from(info.network)],
      ["genesis hash", Buffer.from(info.genesisHash)],
      ["software version", Buffer.from(info.softwareVersion)],
      ["block hash", tipHash],
      ["transaction", txData],
      ["node id", Buffer.from(info.nodeId, "hex")],
    ] as const) {
      assert.equal(seen.indexOf(bytes), -1, `the capture contains the ${what}`);
    }
  });

  test("answered with our own recorded handshake, a dial to H never marks H as ourselves; H stays dialable after a restart", async () => {
    // a's own answer as responder, recorded: b dials a through a second relay.
    const aFront = await startTcpRelay({ host: a.ip, target: { host: a.ip, port: a.p2pPort }, upstreamLocalAddress: "127.0.0.213", capture: true });
    closers.push(() => aFront.stop());
    const probe = connect({ host: a.ip, port: aFront.port, localAddress: "127.0.0.213" });
    probe.on("error", () => undefined);
    // A dialler's first bytes (preamble and message 1), as recorded on the first session.
    const up = Buffer.concat(relay.links[0]!.captured.up);
    const upPreamble = 4 + up.readUInt32BE(0);
    probe.write(up.subarray(0, upPreamble + 2 + up.readUInt16BE(upPreamble)));
    // The answer may come in several chunks (preamble, then message 2): wait for both whole.
    const answerLength = (): number | undefined => {
      const down = Buffer.concat(aFront.links[0]?.captured.down ?? []);
      if (down.length < 4) return undefined;
      const preambleLen = 4 + down.readUInt32BE(0);
      if (down.length < preambleLen + 2) return undefined;
      const total = preambleLen + 2 + down.readUInt16BE(preambleLen);
      return down.length >= total ? total : undefined;
    };
    await waitFor(() => answerLength() !== undefined, { message: "a answered with its preamble and message 2" });
    probe.destroy();
    const aOwnAnswer = Buffer.concat(aFront.links[0]!.captured.down).subarray(0, answerLength());

    // H (127.0.0.214) is a liar on the path: it answers a's dial with a's own answer.
    const hIp = "127.0.0.214" as PeerIp;
    const hPort = await freePort(hIp);
    const liarSockets = new Set<Socket>();
    const liar = createServer((s: Socket) => {
      liarSockets.add(s);
      s.on("error", () => undefined);
      s.write(aOwnAnswer);
    });
    await new Promise<void>((r) => liar.listen(hPort, hIp, r));
    const selfBefore = await gatewayMetric(a, "timenet_gateway_disconnects_total", { reason: "self_connection" });
    await a.registryClient().addPeer({ endpoint: `${hIp}:${hPort}` });
    await waitFor(async () => (await peerRecord(a, hIp)).consecutiveDialFailures >= 2, { timeoutMs: 15_000, message: "a dialled the liar twice" });
    const closed = new Promise<void>((r) => liar.close(() => r()));
    liarSockets.forEach((s) => s.destroy());
    await closed;
    assert.equal(await gatewayMetric(a, "timenet_gateway_disconnects_total", { reason: "self_connection" }), selfBefore);
    assert.ok((await gatewayMetric(a, "timenet_gateway_authentication_failures_total", { stage: "handshake" })) >= 2);
    assert.equal((await peerRecord(a, hIp)).isSelf, false);

    // After a restart of a's registry (its book from disk), the real H comes up there and a connects.
    await a.stopRegistry();
    await a.startRegistry();
    assert.equal((await peerRecord(a, hIp)).isSelf, false, "not persisted as ourselves");
    const h = await node(214, { p2pPort: hPort, registry: { publicIp: hIp, passiveWaitMs: 600_000 } });
    await waitFor(async () => (await gatewayPeers(a)).has(hIp), { timeoutMs: 20_000, message: "a connected to the real H" });
    await h.stop();
    await nobodyBlamed();
  });
});
