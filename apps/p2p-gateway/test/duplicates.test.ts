import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DisconnectReason, OffenceSchema, Subjects } from "@timenet/proto";
import { waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { metricValue, nextEvent, nodePool, record, ScriptedPeer, waitConnected } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

describe("duplicate connections", () => {
  test("a redial racing its half-open old socket: the new socket is kept, the old one closed as DUPLICATE, the peer not penalised", async () => {
    // Pings slow enough that the silent old socket does not time out within a round.
    // 16 dials from one IP in about a second: above the default per-IP accept
    // rate (burst 10, 5/s), which is not what this test is about.
    const a = await node(84, { pingIntervalMs: 2_000, closeGraceMs: 100, acceptRates: { perIp: { count: 100, periodMs: 1_000, burst: 100 } } });
    const peerIp = "127.0.0.85" as PeerIp;
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    await a.bus.flush();
    // Under the old rule (a hash of the nonces) each round kept the dead socket with
    // probability 1/2: eight rounds all passing by chance is 1 in 256.
    const rounds = 8;
    for (let round = 0; round < rounds; round++) {
      const session = ScriptedPeer.identity(); // one peer process: one key, one session id
      const old = await ScriptedPeer.dial(a.endpoint, peerIp, session);
      await old.handshake();
      await waitFor(() => a.gateway.manager.isConnected(peerIp), { message: `round ${round}: old socket established` });
      const oldConn = a.gateway.manager.get(peerIp)!;
      // The peer's side of the old socket is gone: it never reads or answers on it
      // again, but the gateway, which has seen no FIN, still holds it.
      old.socket.pause();

      // The same process dials again.
      const resolved = nextEvent(a.gateway.events, "closing", { filter: (_c, info) => info.reason === DisconnectReason.DUPLICATE });
      const fresh = await ScriptedPeer.dial(a.endpoint, peerIp, session);
      fresh.answerPings();
      await fresh.handshake();
      const [dropped] = await resolved;
      assert.equal(dropped.connId, oldConn.connId, `round ${round}: the old socket is the one closed`);
      const kept = a.gateway.manager.get(peerIp)!;
      assert.notEqual(kept, oldConn);
      assert.equal(kept.state, "established");
      assert.equal(kept.remotePort, fresh.socket.localPort, `round ${round}: the gateway holds the new socket`);
      assert.equal(fresh.closed, false);
      assert.deepEqual(fresh.goodbyes(), []);
      // The old OS socket is gone within the close grace period, though its peer never closes it.
      await waitFor(() => a.gateway.manager.socketCount(peerIp) === 1, { message: `round ${round}: old socket gone` });

      // Next round from a clean slate.
      fresh.close();
      old.close();
      await waitFor(() => a.gateway.manager.socketCount(peerIp) === 0, { message: `round ${round}: all sockets closed` });
    }
    assert.equal(await metricValue(a.gateway, "timenet_gateway_duplicates_resolved_total", { rule: "newer_dial", kept: "new" }), rounds);
    // Nothing here was the peer's fault: no offence, no close it could be blamed for.
    await a.bus.flush();
    assert.deepEqual(offences.filter((o) => o.ip === peerIp), []);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_disconnects_total", { reason: "ping_timeout" }), 0);
  });

  test("a gateway that dials a connected peer again: both live ends keep the newer socket", async () => {
    const a = await node(86);
    const b = await node(87);
    const offences = [a, b].map((n) => record(n.bus, Subjects.offence, OffenceSchema));
    const first = await a.gateway.manager.dial(b.endpoint);
    await waitConnected(a, b);
    const isDuplicate = (_c: unknown, info: { reason: DisconnectReason }) => info.reason === DisconnectReason.DUPLICATE;
    const resolvedOnA = nextEvent(a.gateway.events, "closing", { filter: isDuplicate });
    const resolvedOnB = nextEvent(b.gateway.events, "closing", { filter: isDuplicate });
    // Both sockets are alive on both ends; the two gateways resolve them independently.
    const second = await a.gateway.manager.dial(b.endpoint);
    const [[droppedOnA], [droppedOnB, closeOnB]] = await Promise.all([resolvedOnA, resolvedOnB]);
    assert.equal(droppedOnA.connId, first.connId);
    assert.equal(droppedOnB.remotePort, first.localPort, "b dropped the same (older) socket");
    assert.equal(a.gateway.manager.get(b.ip), second);
    // The two sockets race on b: a's Goodbye{DUPLICATE} on the old one may
    // arrive before b has finished the new one's handshake. Then b closes the
    // old socket on a's word and never resolves a duplicate itself; either way
    // it ends on the newer socket.
    await waitFor(() => b.gateway.manager.get(a.ip)?.state === "established", { message: "b holds a connection to a" });
    assert.equal(b.gateway.manager.get(a.ip)!.remotePort, second.localPort, "b kept the same (newer) socket");
    assert.equal(await metricValue(a.gateway, "timenet_gateway_duplicates_resolved_total", { rule: "newer_dial", kept: "new" }), 1);
    const resolvedByB = await metricValue(b.gateway, "timenet_gateway_duplicates_resolved_total", { rule: "newer_dial", kept: "new" });
    assert.equal(resolvedByB, closeOnB.initiator === "peer" ? 0 : 1, `b resolved ${resolvedByB} duplicates; the old socket closed by ${closeOnB.initiator}`);
    await waitFor(() => a.gateway.manager.socketCount(b.ip) === 1 && b.gateway.manager.socketCount(a.ip) === 1, { message: "one socket per side" });
    await Promise.all([a.bus.flush(), b.bus.flush()]);
    assert.deepEqual(offences.flat(), []);
  });
});
