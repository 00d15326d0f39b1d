// A whole node whose NATS comes back without its store (a lost volume, a
// wiped disk): every service of it on its own NATS user (the devnet library,
// deploy/nats/users.conf), beside a producing node. The parts are tested
// each on their own (libs/bus state-bucket, chain-sync resilience); this is
// the node as an operator runs it: the gateway, the registry and chain-sync
// together, under the permissions each service really has.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { GatewayService, PeerRegistryService } from "@timenet/proto";
import { createGrpcClient } from "@timenet/grpc";
import { waitFor } from "@timenet/testkit";
import { metricOf, tempDevnet } from "./devnet.js";

const NODE_SERVICES = ["p2p-gateway", "peer-registry", "chain-sync", "block-store"];
const IP_BASE = "127.0.8";
const STRANGER = `${IP_BASE}.9`;
const LATE_STRANGER = `${IP_BASE}.10`;
const devnet = await tempDevnet("nats-store-loss-");
const closers: Array<() => void> = [];
after(async () => {
  for (const close of closers) close();
  await devnet.stop();
});

test("a node whose NATS restarts without its store keeps its links and its bans, follows the chain again, and its services publish their state again", { timeout: 180_000 }, async () => {
  const exits: string[] = [];
  const n = await devnet.start({
    nodes: 2,
    workers: 2,
    producers: 1,
    ipBase: IP_BASE,
    network: "devnet-fast",
    onExit: (name: string, code: unknown) => exits.push(`${name} exited ${String(code)}`),
  });
  const grpc = (k: number, service: string) => `${n.ipOf(k)}:${n.ports.services[service]!.grpc}`;
  const metric = (k: number, service: string, name: string, labels?: Record<string, string>) => metricOf(n, k, service, name, labels);
  const gateways = [1, 2].map((k) => createGrpcClient(GatewayService, grpc(k, "p2p-gateway")));
  const registry2 = createGrpcClient(PeerRegistryService, grpc(2, "peer-registry"));
  closers.push(() => gateways.forEach((g) => g.close()), () => registry2.close());
  const height = async (k: number) => metric(k, "block-store", "timenet_store_height");
  /** Each gateway's connection to the other: the socket and the handshake that made it. */
  const links = async () =>
    Promise.all(
      [1, 2].map(async (k) => {
        const other = n.ipOf(3 - k);
        const c = (await gateways[k - 1]!.listConnections({}, { deadlineMs: 3_000 })).connections.find((x) => x.ip === other);
        return c && { connId: c.connId, since: c.connectedSinceMs, remotePort: c.remotePort };
      }),
    );
  /** A stranger at `ip` opens a TCP connection to node 2: refused at accept (closed before any byte) as banned. */
  const refusedAsBanned = async (ip: string, why: string) => {
    const before = await metric(2, "p2p-gateway", "timenet_gateway_accept_refused_total", { reason: "banned" });
    const got = await new Promise<{ bytes: number }>((resolve, reject) => {
      let bytes = 0;
      const s = connect({ host: n.ipOf(2), port: n.ports.p2p, localAddress: ip });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`${why}: node 2 kept ${ip}'s socket open for 5 s`));
      }, 5_000);
      s.on("data", (d: Buffer) => (bytes += d.length));
      s.on("error", () => undefined);
      s.once("close", () => {
        clearTimeout(timer);
        resolve({ bytes });
      });
    });
    assert.equal(got.bytes, 0, `${why}: no handshake byte`);
    await waitFor(async () => (await metric(2, "p2p-gateway", "timenet_gateway_accept_refused_total", { reason: "banned" })) === before + 1, {
      timeoutMs: 5_000,
      message: `${why}: counted as a banned accept`,
    });
  };

  // The node before: linked, following, its registry's policy in force with the operator's ban.
  await waitFor(async () => (await links()).every((l) => l !== undefined), { timeoutMs: 30_000, message: "the two gateways linked" });
  await waitFor(async () => (await height(2)) >= 3, { timeoutMs: 60_000, message: "node 2 follows node 1" });
  await waitFor(async () => (await metric(2, "peer-registry", "timenet_registry_peers", { state: "connected" })) >= 1, { timeoutMs: 30_000, message: "registry 2 sees node 1" });
  await registry2.banPeer({ ip: STRANGER, reason: "test: a stranger the operator banned" }, { deadlineMs: 5_000 });
  await waitFor(async () => (await metric(2, "p2p-gateway", "timenet_gateway_banned_ips")) === 1, { timeoutMs: 10_000, message: "gateway 2 enforces the ban" });
  await refusedAsBanned(STRANGER, "before the restart");
  const linksBefore = await links();
  const disconnectsBefore = await Promise.all([1, 2].map((k) => metric(k, "p2p-gateway", "timenet_gateway_disconnects_total")));
  const heightAtLoss = await height(1);

  await n.restartNats(2, { emptyStore: true });

  // At once: the gateway still enforces the bans it last read (its bucket is gone, not its memory).
  await refusedAsBanned(STRANGER, "just after the restart");
  // chain-sync declares its queue and lease again (whichever replica finds them gone) and follows: node 1's blocks made since reach node 2.
  await waitFor(async () => (await height(2)) >= heightAtLoss + 5, { timeoutMs: 30_000, intervalMs: 200, message: `node 2 past ${heightAtLoss + 5} again` });
  // The owners write their buckets back (at their next write, or their 30 s look), and each follower reads them again.
  await waitFor(
    async () =>
      (await metric(2, "p2p-gateway", "timenet_nats_state_buckets_recreated_total")) >= 1 && (await metric(2, "peer-registry", "timenet_nats_state_buckets_recreated_total")) >= 1,
    { timeoutMs: 60_000, intervalMs: 500, message: "the gateway's and the registry's buckets written back" },
  );
  // The registry reads the gateway's connection set again: node 1 is still connected, never "left".
  await waitFor(async () => (await metric(2, "peer-registry", "timenet_registry_peers", { state: "connected" })) >= 1, { timeoutMs: 10_000, message: "registry 2 sees node 1 after" });
  // A ban made now travels the whole way again: registry, the new bucket, the gateway's new read.
  await registry2.banPeer({ ip: LATE_STRANGER, reason: "test: banned after the store was lost" }, { deadlineMs: 5_000 });
  await waitFor(async () => (await metric(2, "p2p-gateway", "timenet_gateway_banned_ips")) === 2, { timeoutMs: 10_000, message: "gateway 2 reads the new ban" });
  await refusedAsBanned(LATE_STRANGER, "banned after the restart");
  await refusedAsBanned(STRANGER, "the old ban, from the bucket written back");

  // Nothing of it reached the link: the same connection both ends, no disconnect, no offence, no ban of node 1.
  assert.deepEqual(await links(), linksBefore, "the same connection on both gateways");
  assert.deepEqual(await Promise.all([1, 2].map((k) => metric(k, "p2p-gateway", "timenet_gateway_disconnects_total"))), disconnectsBefore, "no disconnect");
  for (const k of [1, 2]) {
    assert.equal(await metric(k, "peer-registry", "timenet_registry_offences_total"), 0, `registry ${k} heard no offence`);
    assert.equal(await metric(k, "p2p-gateway", "timenet_gateway_offences_total"), 0, `gateway ${k} reported no offence`);
  }
  assert.equal(await metric(2, "peer-registry", "timenet_registry_bans_total"), 2, "registry 2's only bans are the operator's two");
  // Every recovery was within the service's grant: nothing refused by the new server.
  for (const s of NODE_SERVICES) assert.equal(await metric(2, s, "timenet_nats_permission_violations_total"), 0, `node 2's ${s} had refusals`);
  assert.deepEqual(exits, []);
});
