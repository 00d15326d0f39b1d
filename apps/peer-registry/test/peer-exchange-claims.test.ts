// A peer that lies about other peers' addresses. M (a bare gateway the test
// scripts over its NATS bus) answers a's GetPeers with an honest node's IP
// and a wrong port: for H, a port where a plain TCP server answers with an
// SSH banner; for H2, a port where nothing listens. Whatever a dials there,
// nothing is held against H or H2: no offence, no score, no ban; the claim is
// dropped after its failures, a verified entry keeps its port, the peers' own
// Hellos correct a wrong port, and M's candidate budget does not come back
// when M reconnects.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { OffenceKind, OffenceSchema, PeerDirection, PeerMessageSchema, PeerSource, PeerState, SendToPeerSchema, Subjects, type Offence, type PeerAddress } from "@timenet/proto";
import { freePort, waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { gatewayMetric, gatewayPeers, nodePool, registryMetric, type TestNode } from "./harness.js";

const { node, stopAll } = nodePool();
const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
  await stopAll();
});

/** A plain TCP service that behaves like sshd: greets, and hangs up on anything that is not SSH. The wrong port a liar names. */
async function sshLike(host: string): Promise<{ port: number; accepted: () => number }> {
  const port = await freePort(host);
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on("error", () => undefined);
    s.on("close", () => sockets.delete(s));
    s.once("data", () => s.end("Invalid SSH identification string.\r\n"));
    s.once("end", () => s.end());
    s.write("SSH-2.0-OpenSSH_9.6\r\n");
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return { port, accepted: () => accepted };
}

describe("peer exchange naming honest IPs with a wrong port", () => {
  const H = "127.0.0.230" as PeerIp; // lower than a: a dials a claim about it at once
  const H2 = "127.0.0.233" as PeerIp; // higher than a: a waits for it to dial first
  const BUDGET = 3;
  let a: TestNode, m: TestNode, h: TestNode, h2: TestNode;
  let ssh: Awaited<ReturnType<typeof sshLike>>;
  let h2WrongPort: number;
  /** What m answers a's GetPeers with; the test changes it. */
  let claims: Array<Pick<PeerAddress, "ip" | "port">> = [];
  const offences: Offence[] = [];

  const record = (ip: string) => a.registry!.records.get(ip as PeerIp);
  const candidates = (result: string) => registryMetric(a, "timenet_registry_peer_exchange_candidates_total", { result });

  /** Nothing held against the honest IPs, and their inbound connections were never refused. */
  async function honestUnharmed(): Promise<void> {
    await a.bus.flush();
    assert.deepEqual(offences.filter((o) => o.ip === H || o.ip === H2), [], "no offence against an honest IP");
    assert.equal(await registryMetric(a, "timenet_registry_bans_total"), 0);
    assert.equal(await gatewayMetric(a, "timenet_gateway_accept_refused_total"), 0);
    for (const ip of [H, H2]) {
      const p = record(ip);
      if (!p) continue;
      assert.deepEqual([p.score, p.banUntilMs, p.banCount, p.isSelf], [0, 0n, 0, false], `${ip} unharmed`);
    }
  }

  test("setup: a is linked to m, the liar", async () => {
    ssh = await sshLike(H);
    h2WrongPort = await freePort(H2);
    h = await node(230, { registry: { passiveWaitMs: 600_000 } });
    h2 = await node(233, { registry: { passiveWaitMs: 600_000 } });
    m = await node(231, { noRegistry: true, gatewayEnv: { ADMISSION_WAIT: "0ms" } });
    // m answers a's GetPeers (on the connection that asked) with the claims of the moment.
    m.bus.subscribe(Subjects.peerIn("get_peers"), PeerMessageSchema, (msg) => {
      const env = msg.envelope;
      if (msg.peerIp !== "127.0.0.232" || env?.payload.case !== "getPeers") return;
      m.bus.publish(Subjects.peerOutSend, SendToPeerSchema, {
        peerIp: msg.peerIp,
        connId: msg.connId,
        envelope: { requestId: env.requestId, payload: { case: "peers", value: { peers: claims.map((c) => ({ ...c, lastSeenMs: BigInt(Date.now()) })) } } },
      });
    });
    await m.bus.flush();
    a = await node(232, {
      registry: {
        bootstrapPeers: [m.endpoint],
        passiveWaitMs: 600_000,
        candidateRate: { count: BUDGET, periodMs: 3_600_000, burst: BUDGET },
        unverifiedMaxFailures: 2,
      },
    });
    a.bus.subscribe(Subjects.offence, OffenceSchema, (o) => void offences.push(o));
    await a.bus.flush();
    await waitFor(async () => (await gatewayPeers(a)).has(m.ip), { timeoutMs: 15_000, message: "a linked to m" });
  });

  test("an inbound connection's Hello corrects a claimed port; later claims never overwrite it", async () => {
    claims = [{ ip: H2, port: h2WrongPort }];
    await waitFor(() => record(H2)?.port === h2WrongPort, { timeoutMs: 15_000, message: "a took m's claim about H2" });
    assert.deepEqual([record(H2)!.source, record(H2)!.totalConnections], [PeerSource.PEER_EXCHANGE, 0], "unverified");
    // H2 connects in (an operator's addnode on H2): its own Hello names its port.
    await h2.registryClient().addPeer({ endpoint: `${a.ip}:${a.p2pPort}` });
    await waitFor(() => record(H2)?.state === PeerState.CONNECTED, { timeoutMs: 15_000, message: "H2 connected in" });
    assert.equal(record(H2)!.direction, PeerDirection.INBOUND);
    assert.equal(record(H2)!.port, h2.p2pPort, "corrected by H2's Hello");
    assert.equal(await registryMetric(a, "timenet_registry_port_corrections_total", { was: "unverified" }), 1);
    // m keeps telling the wrong port: known now, nothing changes.
    const known = await candidates("known");
    await waitFor(async () => (await candidates("known")) >= known + 2, { timeoutMs: 15_000, message: "m told it twice more" });
    assert.equal(record(H2)!.port, h2.p2pPort);
    await honestUnharmed();
  });

  test("a claim about H's SSH port: dialled, dropped after its failures, replanted only within m's budget; H is never blamed", async () => {
    claims = [{ ip: H2, port: h2WrongPort }, { ip: H, port: ssh.port }];
    await waitFor(async () => (await candidates("rate_limited")) >= 1, { timeoutMs: 30_000, message: "m's budget spent" });
    // One token went on H2; the two left each planted H:ssh once, and each plant was dropped after two failed dials.
    assert.equal(await candidates("accepted"), BUDGET);
    assert.equal(await registryMetric(a, "timenet_registry_forgotten_total", { reason: "unverified" }), BUDGET - 1);
    assert.ok(ssh.accepted() >= 2 * (BUDGET - 1), `a dialled the SSH port ${ssh.accepted()} times`);
    assert.equal(record(H), undefined, "the claim is gone");
    await honestUnharmed();
  });

  test("H itself connects in: admitted, its own port kept whatever m says, the link stays", async () => {
    await h.registryClient().addPeer({ endpoint: `${a.ip}:${a.p2pPort}` });
    await waitFor(() => record(H)?.state === PeerState.CONNECTED, { timeoutMs: 15_000, message: "H connected in" });
    const link = (await gatewayPeers(a)).get(H)!;
    assert.ok(link, "a's gateway holds H");
    const known = await candidates("known");
    await waitFor(async () => (await candidates("known")) >= known + 2, { timeoutMs: 15_000, message: "m told H:ssh twice more" });
    const p = record(H)!;
    assert.deepEqual([p.port, p.consecutiveDialFailures, p.state], [h.p2pPort, 0, PeerState.CONNECTED]);
    assert.equal((await gatewayPeers(a)).get(H)?.connId, link.connId, "the same link");
    await honestUnharmed();
  });

  test("m reconnects: no fresh budget, and a's judgement of m is still there", async () => {
    // A low-grade offence against m, reported on a's bus as its gateway would.
    a.bus.publish(Subjects.offence, OffenceSchema, { ip: m.ip, kind: OffenceKind.PING_TIMEOUT, detail: "test", atMs: BigInt(Date.now()) });
    await waitFor(() => (record(m.ip)?.score ?? 0) < 0, { message: "m penalised" });
    const NEW = "127.0.0.229" as PeerIp;
    claims = [{ ip: H, port: ssh.port }, { ip: NEW, port: await freePort(NEW) }];
    const before = (await gatewayPeers(a)).get(m.ip)!.connId;
    const limited = await candidates("rate_limited");
    await m.gateway.stop();
    await m.startGateway();
    await waitFor(async () => {
      const c = (await gatewayPeers(a)).get(m.ip);
      return c !== undefined && c.connId !== before;
    }, { timeoutMs: 15_000, message: "a redialled m" });
    await waitFor(async () => (await candidates("rate_limited")) > limited, { timeoutMs: 15_000, message: "m's claims after the reconnect" });
    assert.equal(record(NEW), undefined, "no fresh budget");
    assert.equal(await candidates("accepted"), BUDGET);
    assert.ok(record(m.ip)!.score <= -9, `m's score ${record(m.ip)!.score} survived the reconnect`);
    assert.equal(record(H)!.port, h.p2pPort);
    assert.ok((await gatewayPeers(a)).has(H) && (await gatewayPeers(a)).has(H2), "both honest links stay");
    await honestUnharmed();
  });
});
