import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import {
  BroadcastSchema,
  ChainTipSchema,
  EnvelopeSchema,
  Direction,
  GatewayService,
  PeerMessageSchema,
  PeerRequestErrorCode,
  PeerRequestSchema,
  PeerResponseSchema,
  SendToPeerSchema,
  Subjects,
} from "@timenet/proto";
import { create, toBinary } from "@bufbuild/protobuf";
import { createGrpcClient } from "@timenet/grpc";
import { withEmbeddedField } from "@timenet/wire";
import { DEVNET } from "@timenet/chain";
import { DEFAULT_RATE_LIMITS } from "../src/options.js";
import { waitFor } from "@timenet/testkit";
import { dialVia, FAST, metricValue, record, startNode, waitConnected, type TestNode } from "./harness.js";

let a: TestNode, b: TestNode, c: TestNode;
before(async () => {
  a = await startNode(50);
  b = await startNode(51, { namedPeers: ["127.0.0.50"] });
  c = await startNode(52);
  await dialVia(b, a);
  await dialVia(c, a);
  await dialVia(c, b);
  await waitConnected(a, b);
  await waitConnected(a, c);
  await waitConnected(b, c);
});
after(async () => {
  await Promise.all([a, b, c].filter(Boolean).map((n) => n.stop()));
});

describe("NATS bridge", () => {
  test("Tx gossip reaches every node's services exactly once, its sender's never, relayed once by each node", async () => {
    const inA = record(a.bus, Subjects.peerIn("tx"), PeerMessageSchema);
    const inB = record(b.bus, Subjects.peerIn("tx"), PeerMessageSchema);
    const inC = record(c.bus, Subjects.peerIn("tx"), PeerMessageSchema);
    await Promise.all([a.bus.flush(), b.bus.flush(), c.bus.flush()]);
    const data = new TextEncoder().encode("tx-1");
    a.bus.publish(Subjects.peerOutBroadcast, BroadcastSchema, { envelope: { payload: { case: "tx", value: { data } } } });
    // a sends it to b and c; each relays it once, to its one other peer. Which copy a node sees first
    // depends on arrival order: usually b and c each drop the other's relay; but when b's relay reaches c
    // before a's own copy (a loaded machine reads sockets in any order), c relays to a, which drops it.
    // Either way: two first sights (b, c), two duplicates, and a never takes its own Tx as new.
    const count = async (result: string) => {
      let n = 0;
      for (const x of [a, b, c]) n += await metricValue(x.gateway, "timenet_gateway_gossip_total", { kind: "tx", result });
      return n;
    };
    await waitFor(async () => (await count("relayed")) === 2 && (await count("duplicate")) === 2, { message: "two first sights, two duplicates" });
    await Promise.all([a.bus.flush(), b.bus.flush(), c.bus.flush()]);
    assert.equal(inB.length, 1);
    assert.equal(inC.length, 1);
    assert.equal(inB[0]!.envelope!.payload.case, "tx");
    assert.equal(Buffer.compare((inB[0]!.envelope!.payload.value as { data: Uint8Array }).data, data), 0);
    assert.ok(["127.0.0.50", "127.0.0.52"].includes(inB[0]!.peerIp), `b got it from a or c, not ${inB[0]!.peerIp}`);
    assert.equal(inA.length, 0, "never to the sender's services");
    assert.equal(await metricValue(a.gateway, "timenet_gateway_gossip_total", { result: "relayed" }), 0, "the sender never relays its own Tx");
  });

  test("NewBlock is never relayed; each peer's announcement of a block reaches the bus once", async () => {
    const inA = record(a.bus, Subjects.peerIn("new_block"), PeerMessageSchema);
    const inB = record(b.bus, Subjects.peerIn("new_block"), PeerMessageSchema);
    await Promise.all([a.bus.flush(), b.bus.flush()]);
    const hash = new Uint8Array(32).fill(0xab);
    for (let i = 0; i < 3; i++) {
      c.bus.publish(Subjects.peerOutBroadcast, BroadcastSchema, { envelope: { payload: { case: "newBlock", value: { height: 1, hash } } } });
    }
    await waitFor(
      async () =>
        (await metricValue(a.gateway, "timenet_gateway_gossip_total", { kind: "new_block" })) >= 3 &&
        (await metricValue(b.gateway, "timenet_gateway_gossip_total", { kind: "new_block" })) >= 3,
      { message: "a and b saw c's three announcements" },
    );
    await Promise.all([a.bus.flush(), b.bus.flush()]);
    // Only c announced: a and b do not have the block, so they must not claim it to each other.
    assert.deepEqual(inA.map((m) => m.peerIp), ["127.0.0.52"]);
    assert.deepEqual(inB.map((m) => m.peerIp), ["127.0.0.52"]);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_gossip_total", { kind: "new_block", result: "duplicate" }), 2);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_gossip_total", { kind: "new_block", result: "relayed" }), 0);

    // When b has stored it and announces it too, that reaches a as b's claim.
    b.bus.publish(Subjects.peerOutBroadcast, BroadcastSchema, { envelope: { payload: { case: "newBlock", value: { height: 1, hash } } } });
    await waitFor(async () => inA.length === 2, { message: "b's own announcement reaches a" });
    assert.deepEqual(inA.map((m) => m.peerIp), ["127.0.0.52", "127.0.0.51"]);
  });

  test("ListConnections shows each peer's latest announced height, not the stale one of its Hello", async () => {
    const client = createGrpcClient(GatewayService, `127.0.0.1:${a.gateway.grpcPort}`);
    try {
      const heightOfC = async () => (await client.listConnections({})).connections.find((x) => x.ip === "127.0.0.52")!.bestHeight;
      const helloHeight = await heightOfC();
      const announce = (height: number, fill: number) =>
        c.bus.publish(Subjects.peerOutBroadcast, BroadcastSchema, { envelope: { payload: { case: "newBlock", value: { height, hash: new Uint8Array(32).fill(fill) } } } });
      const announced = () => metricValue(a.gateway, "timenet_gateway_gossip_total", { kind: "new_block", result: "announced" });
      const before = await announced();
      announce(helloHeight + 7, 0xc1);
      await waitFor(async () => (await heightOfC()) === helloHeight + 7, { message: "c's announcement raises its height on a" });
      // A lower announcement (a reorg's, or an older block's) does not lower what is known.
      announce(helloHeight + 3, 0xc2);
      await waitFor(async () => (await announced()) === before + 2, { message: "a saw the lower announcement" });
      assert.equal(await heightOfC(), helloHeight + 7);
    } finally {
      client.close();
    }
  });

  test("p2p.request: the answer comes back on the socket the question went out on, paired by request id", async () => {
    const asked = record(a.bus, Subjects.peerIn("get_peers"), PeerMessageSchema);
    // a's peer-exchange stand-in answers through p2p.out.send, naming the connection.
    a.bus.subscribe(Subjects.peerIn("get_peers"), PeerMessageSchema, (m) => {
      a.bus.publish(Subjects.peerOutSend, SendToPeerSchema, {
        peerIp: m.peerIp,
        connId: m.connId,
        envelope: { requestId: m.envelope!.requestId, payload: { case: "peers", value: { peers: [{ ip: "127.0.0.99", port: 24100 }] } } },
      });
    });
    await a.bus.flush();
    const res = await b.bus.request(
      Subjects.peerRequest,
      PeerRequestSchema,
      { peerIp: "127.0.0.50", envelope: { payload: { case: "getPeers", value: { max: 10 } } }, timeoutMs: 2_000 },
      PeerResponseSchema,
      { timeoutMs: 5_000 },
    );
    assert.equal(res.result.case, "envelope");
    const env = res.result.value as { payload: { case: string; value: { peers: Array<{ ip: string }> } } };
    assert.equal(env.payload.case, "peers");
    assert.equal(env.payload.value.peers[0]!.ip, "127.0.0.99");
    assert.equal(asked[0]!.connId, a.gateway.manager.get(b.ip)!.connId);
    assert.notEqual(asked[0]!.envelope!.requestId, 0);
  });

  test("p2p.request errors are typed: not connected, timeout", async () => {
    const notConnected = await b.bus.request(
      Subjects.peerRequest,
      PeerRequestSchema,
      { peerIp: "127.0.0.199", envelope: { payload: { case: "getBlocks", value: { fromHeight: 1, count: 1 } } } },
      PeerResponseSchema,
    );
    assert.equal(notConnected.result.case, "error");
    assert.equal((notConnected.result.value as { code: number }).code, PeerRequestErrorCode.NOT_CONNECTED);
    // Nobody on c answers get_blocks.
    const timeout = await b.bus.request(
      Subjects.peerRequest,
      PeerRequestSchema,
      { peerIp: "127.0.0.52", envelope: { payload: { case: "getBlocks", value: { fromHeight: 1, count: 1 } } }, timeoutMs: 200 },
      PeerResponseSchema,
    );
    assert.equal((timeout.result.value as { code: number }).code, PeerRequestErrorCode.TIMEOUT);
    // Only questions can be asked: a Tx has no answer to wait for.
    const notAQuestion = await b.bus.request(
      Subjects.peerRequest,
      PeerRequestSchema,
      { peerIp: "127.0.0.50", envelope: { payload: { case: "tx", value: { data: new Uint8Array([1]) } } } },
      PeerResponseSchema,
    );
    assert.equal((notAQuestion.result.value as { code: number }).code, PeerRequestErrorCode.BAD_REQUEST);
  });

  test("GetBlocks out to one peer are bounded for every asker together: beyond 16, TOO_MANY_REQUESTS at once, never sent; a place frees when one ends", async () => {
    const reached = record(c.bus, Subjects.peerIn("get_blocks"), PeerMessageSchema);
    await c.bus.flush();
    // Nobody on c answers get_blocks: each question holds its place until its timeout.
    const ask = (timeoutMs: number) =>
      b.bus.request(
        Subjects.peerRequest,
        PeerRequestSchema,
        { peerIp: "127.0.0.52", envelope: { payload: { case: "getBlocks", value: { fromHeight: 1, count: 1 } } }, timeoutMs },
        PeerResponseSchema,
        { timeoutMs: timeoutMs + 5_000 },
      );
    const held = Array.from({ length: 16 }, () => ask(1_500));
    await waitFor(() => reached.length === 16, { message: "16 questions reached c" });
    const refused = await ask(1_500);
    assert.equal(refused.result.case, "error");
    assert.equal((refused.result.value as { code: number }).code, PeerRequestErrorCode.TOO_MANY_REQUESTS);
    // A GetPeers is not a GetBlocks: still asked.
    const peers = await b.bus.request(Subjects.peerRequest, PeerRequestSchema, { peerIp: "127.0.0.52", envelope: { payload: { case: "getPeers", value: { max: 1 } } }, timeoutMs: 100 }, PeerResponseSchema);
    assert.equal((peers.result.value as { code: number }).code, PeerRequestErrorCode.TIMEOUT);
    for (const r of await Promise.all(held)) assert.equal((r.result.value as { code: number }).code, PeerRequestErrorCode.TIMEOUT);
    const later = await ask(100);
    assert.equal((later.result.value as { code: number }).code, PeerRequestErrorCode.TIMEOUT, "asked again once the others ended");
    assert.equal(reached.length, 17, "the refused question never went out");
    assert.equal(await metricValue(b.gateway, "timenet_gateway_peer_requests_total", { result: "too_many_block_requests" }), 1);
  });

  test("a reply naming a connection that is gone is dropped, never sent down another socket", async () => {
    a.bus.publish(Subjects.peerOutSend, SendToPeerSchema, {
      peerIp: "127.0.0.51",
      connId: 999_999,
      envelope: { payload: { case: "tx", value: { data: new Uint8Array([1]) } } },
    });
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_dropped_messages_total", { reason: "connection_gone" })) === 1, {
      message: "dropped",
    });
  });

  test("a SendToPeer is sent as its envelope's bytes; one whose envelope a peer would refuse is dropped and counted, and the link stays", async () => {
    const inB = record(b.bus, Subjects.peerIn("tx"), PeerMessageSchema);
    await b.bus.flush();
    const tx = (data: number) => toBinary(EnvelopeSchema, create(EnvelopeSchema, { payload: { case: "tx", value: { data: Uint8Array.of(data, 7, 7) } } }));
    const to = toBinary(SendToPeerSchema, create(SendToPeerSchema, { peerIp: "127.0.0.51" }));
    // Bytes after the payload (b would close the link as BAD_FRAME), and an envelope that runs past its message.
    a.bus.publishEncoded(Subjects.peerOutSend, withEmbeddedField(to, 0x1a, Uint8Array.of(...tx(1), 0x08, 0x01)));
    a.bus.publishEncoded(Subjects.peerOutSend, Uint8Array.of(...to, 0x1a, 0x40, 0x01));
    a.bus.publishEncoded(Subjects.peerOutSend, withEmbeddedField(to, 0x1a, tx(2)));
    await waitFor(() => inB.length === 1, { message: "the well-formed one reached b" });
    assert.deepEqual(new Uint8Array((inB[0]!.envelope!.payload.value as { data: Uint8Array }).data), Uint8Array.of(2, 7, 7));
    assert.equal(await metricValue(a.gateway, "timenet_gateway_dropped_messages_total", { reason: "bad_send_request" }), 2);
    const client = createGrpcClient(GatewayService, `127.0.0.1:${a.gateway.grpcPort}`);
    const links = await client.listConnections({});
    client.close();
    assert.ok(links.connections.some((x) => x.ip === "127.0.0.51"), "a's link to b stays");
  });

  test("gRPC ListConnections and Disconnect; /metrics and /readyz", async () => {
    const client = createGrpcClient(GatewayService, `127.0.0.1:${a.gateway.grpcPort}`);
    try {
      const list = await client.listConnections({});
      assert.deepEqual(list.connections.map((x) => x.ip).sort(), ["127.0.0.51", "127.0.0.52"]);
      const toB = list.connections.find((x) => x.ip === "127.0.0.51")!;
      assert.equal(toB.direction, Direction.INBOUND);
      assert.equal(toB.port, b.gateway.p2pPort);
      assert.equal(toB.nodeId, b.gateway.nodeId);
      assert.ok(toB.bytesIn > 0n && toB.framesOut > 0n);
      await assert.rejects(client.disconnect({ ip: "not-an-ip" }), (err: { code: number }) => err.code === status.INVALID_ARGUMENT);
      assert.equal((await client.disconnect({ ip: "127.0.0.199" })).disconnected, false);
      const info = await client.getInfo({});
      assert.equal(info.nodeId, a.gateway.nodeId);
      assert.equal(info.network, "devnet");
      assert.deepEqual(Buffer.from(info.genesisHash), Buffer.from(DEVNET.genesisHash));
      assert.equal(info.listenPort, a.gateway.p2pPort);
      assert.ok(info.protocolVersion >= 1 && info.softwareVersion !== "");
    } finally {
      client.close();
    }

    const metrics = await (await fetch(`http://127.0.0.1:${a.gateway.metricsPort}/metrics`)).text();
    assert.match(metrics, /timenet_gateway_peers\{direction="inbound"\} 2/);
    assert.match(metrics, /timenet_gateway_frames_total\{kind="ping",direction="out"\}/);
    assert.match(metrics, /process_cpu_seconds_total/);
    // Peers not named in configuration are aggregated, never one series per IP.
    assert.match(metrics, /timenet_gateway_pings_sent_total\{peer="other"\}/);
    assert.doesNotMatch(metrics, /peer="127\.0\.0\.5[12]"/);
    // b names a in NAMED_PEERS, so a gets its own series there.
    const bMetrics = await (await fetch(`http://127.0.0.1:${b.gateway.metricsPort}/metrics`)).text();
    assert.match(bMetrics, /timenet_gateway_pings_sent_total\{peer="127\.0\.0\.50"\}/);
    assert.equal((await fetch(`http://127.0.0.1:${a.gateway.metricsPort}/readyz`)).status, 200);
  });
});

describe("chain.tip", () => {
  test("a fresh tip is announced to peers as NewBlock once and goes into our Hello; a stale one only into the Hello", async () => {
    const inB = record(b.bus, Subjects.peerIn("new_block"), PeerMessageSchema);
    await b.bus.flush();
    const header = { height: 7, prevHash: new Uint8Array(32), merkleRoot: new Uint8Array(32), timestampMs: BigInt(Date.now()), producerId: new Uint8Array(32), signature: new Uint8Array(64) };
    const hash = new Uint8Array(32).fill(7);
    a.bus.publish(Subjects.chainTip, ChainTipSchema, { height: 7, hash, timestampMs: BigInt(Date.now()), genesisHash: DEVNET.genesisHash, header });
    await waitFor(() => inB.length === 1, { message: "b got the announcement" });
    assert.equal(inB[0]!.envelope!.payload.case, "newBlock");
    assert.equal(inB[0]!.peerIp, a.ip);
    // A catching-up node's old tip is not announced, but its Hello says where it is.
    a.bus.publish(Subjects.chainTip, ChainTipSchema, { height: 8, hash: new Uint8Array(32).fill(8), timestampMs: 1n, genesisHash: DEVNET.genesisHash, header: { ...header, height: 8, timestampMs: 1n } });
    // Another network's tip is ignored altogether.
    a.bus.publish(Subjects.chainTip, ChainTipSchema, { height: 99, hash, timestampMs: BigInt(Date.now()), genesisHash: new Uint8Array(32).fill(1), header });
    await a.bus.flush();
    const d = await startNode(53);
    try {
      await dialVia(d, a);
      await waitConnected(a, d);
      assert.equal(d.gateway.manager.get(a.ip)!.peerHello!.bestHeight, 8);
    } finally {
      await d.stop();
    }
    assert.equal(inB.length, 1);
  });
});

describe("our GetBlocks pace towards one peer", () => {
  test("beyond GET_BLOCKS_PACE a GetBlocks is TOO_MANY_REQUESTS at once and never sent; the peer's own rate limit never sees an excess", async () => {
    const d = await startNode(54, { getBlocksPace: { count: 2, periodMs: 1_000, burst: 3 } });
    // e's limit has the margin the defaults keep (20/s:200 against our 16/s:160): at equal rates, the burst's
    // three arriving a few ms late and the next one on time would find e's bucket a fraction short.
    const e = await startNode(55, { rateLimits: { ...DEFAULT_RATE_LIMITS, ...FAST.rateLimits, getBlocks: { count: 3, periodMs: 1_000, burst: 4 } } });
    try {
      await dialVia(d, e);
      await waitConnected(d, e);
      const reached = record(e.bus, Subjects.peerIn("get_blocks"), PeerMessageSchema);
      await e.bus.flush();
      // Nobody on e answers: each question times out after 100 ms, whatever the pace.
      const ask = () =>
        d.bus.request(Subjects.peerRequest, PeerRequestSchema, { peerIp: e.ip, envelope: { payload: { case: "getBlocks", value: { fromHeight: 1, count: 1 } } }, timeoutMs: 100 }, PeerResponseSchema, {
          timeoutMs: 5_000,
        });
      const codeOf = (r: Awaited<ReturnType<typeof ask>>) => (r.result.value as { code: number }).code;
      const burst = await Promise.all([ask(), ask(), ask()]);
      assert.deepEqual(burst.map(codeOf), [PeerRequestErrorCode.TIMEOUT, PeerRequestErrorCode.TIMEOUT, PeerRequestErrorCode.TIMEOUT], "the burst goes out");
      assert.equal(codeOf(await ask()), PeerRequestErrorCode.TOO_MANY_REQUESTS, "beyond it, refused here");
      assert.equal(await metricValue(d.gateway, "timenet_gateway_peer_requests_total", { result: "paced" }), 1);
      // A token comes back after 500 ms: asked again, it goes out.
      await waitFor(async () => codeOf(await ask()) === PeerRequestErrorCode.TIMEOUT, { timeoutMs: 3_000, intervalMs: 100, message: "paced again" });
      await waitFor(() => reached.length === 4, { message: "4 GetBlocks reached e" });
      assert.equal(await metricValue(e.gateway, "timenet_gateway_rate_limited_total"), 0, "e dropped none for its rate limit");
    } finally {
      await Promise.all([d.stop(), e.stop()]);
    }
  });

  test("paced faster than the peer's limit (another version or setting): the excess comes back busy at once, not as a timeout to hold against the peer", async () => {
    const d = await startNode(56, { getBlocksPace: { count: 10, periodMs: 1_000, burst: 6 } });
    const e = await startNode(57, { rateLimits: { ...DEFAULT_RATE_LIMITS, ...FAST.rateLimits, getBlocks: { count: 1, periodMs: 60_000, burst: 3 } } });
    try {
      await dialVia(d, e);
      await waitConnected(d, e);
      // Nobody on e answers what reaches its store's subject: those time out after 2 s.
      const ask = () =>
        d.bus.request(Subjects.peerRequest, PeerRequestSchema, { peerIp: e.ip, envelope: { payload: { case: "getBlocks", value: { fromHeight: 1, count: 1 } } }, timeoutMs: 2_000 }, PeerResponseSchema, {
          timeoutMs: 10_000,
        });
      const started = Date.now();
      const answers = await Promise.all([ask(), ask(), ask(), ask(), ask(), ask()].map((q) => q.then((r) => ({ r, ms: Date.now() - started }))));
      const busy = answers.filter(({ r }) => r.result.case === "envelope" && r.result.value.payload.case === "blocks" && r.result.value.payload.value.busy);
      const timedOut = answers.filter(({ r }) => r.result.case === "error" && r.result.value.code === PeerRequestErrorCode.TIMEOUT);
      assert.equal(busy.length, 3, "the 3 over e's limit are told busy");
      assert.equal(timedOut.length, 3, `the 3 within it reached e's store subject (nobody answers there): ${JSON.stringify(answers.map(({ r, ms }) => [r.result.case, r.result.case === "error" ? r.result.value.code : "", ms]))}`);
      assert.ok(
        busy.every(({ ms }) => ms < 1_500),
        `busy answers came at once: ${busy.map(({ ms }) => ms).join(", ")} ms`,
      );
      assert.equal(await metricValue(e.gateway, "timenet_gateway_busy_answers_total", { result: "sent" }), 3);
      assert.equal(await metricValue(d.gateway, "timenet_gateway_peer_requests_total", { result: "ok" }), 3);
    } finally {
      await Promise.all([d.stop(), e.stop()]);
    }
  });
});
