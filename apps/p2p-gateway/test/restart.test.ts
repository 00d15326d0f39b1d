import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DialRequestSchema, DisconnectReason, Subjects } from "@timenet/proto";
import { Bus } from "@timenet/bus";
import { NodeKey } from "@timenet/node-key";
import { freePort, holdOutboundPort, startNatsServer, tempDir, waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { connectionStates, dialVia, metricValue, startNode, waitConnected, type TestNode } from "./harness.js";

const MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));
const nodes: TestNode[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  for (const c of cleanups) await c();
});

describe("restarts", () => {
  test("a peer that restarts from a new ephemeral port is still exactly one peer", async () => {
    const a = await startNode(40);
    const b = await startNode(41);
    nodes.push(a, b);
    const disconnected = (await connectionStates(a)).ended;
    await dialVia(b, a);
    await waitConnected(a, b);
    const before = a.gateway.manager.get(b.ip)!;

    await b.stopGateway(); // Goodbye{SHUTDOWN}: not a failure
    await waitFor(() => !a.gateway.manager.isConnected(b.ip), { message: "a saw b leave" });
    await b.restartGateway();
    await dialVia(b, a);
    await waitConnected(a, b);

    const now = a.gateway.manager.get(b.ip)!;
    assert.notEqual(now.connId, before.connId);
    assert.notEqual(now.remotePort, before.remotePort, "a new ephemeral port");
    assert.equal(a.gateway.manager.connections().length, 1, "one peer, not two");
    assert.equal(a.gateway.manager.socketCount(b.ip), 1);
    await a.bus.flush();
    await waitFor(() => disconnected.length === 1, { message: "one end published" });
    assert.equal(disconnected[0]!.ended!.reason, DisconnectReason.SHUTDOWN);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_disconnects_total", { reason: "shutdown", initiator: "peer" }), 1);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_offences_total"), 0);
  });

  test("a restarted peer replaces its half-open old connection (old process frozen, not closed)", async () => {
    // a has a long ping timeout, so it still believes in the old socket when the new one arrives.
    const a = await startNode(42, { pingIntervalMs: 3_000, missedPongs: 3, closeGraceMs: 300 });
    nodes.push(a);
    const dir = await tempDir("gw-restart-");
    cleanups.push(() => dir.remove());
    const keyFile = join(dir.path, "node.key");
    const nats = await startNatsServer();
    cleanups.push(() => nats.stop());
    const oldPort = await freePort("127.0.0.43");
    const child: ChildProcess = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        NODE_NAME: "old-b",
        P2P_HOST: "127.0.0.43",
        P2P_PORT: String(oldPort),
        NODE_KEY_FILE: keyFile,
        NATS_URL: nats.url,
        GRPC_PORT: "0",
        METRICS_PORT: "0",
        PING_INTERVAL: "3s",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    cleanups.push(() => {
      child.kill("SIGKILL");
    });
    const bIp = "127.0.0.43" as PeerIp;
    // Tell the child's gateway to dial a, as its registry would.
    const childBus = await Bus.connect({ servers: nats.url, name: "test-registry" });
    cleanups.push(() => childBus.close());
    await waitFor(async () => {
      childBus.publish(Subjects.registryDial, DialRequestSchema, { ip: a.ip, port: a.gateway.p2pPort, reason: "test" });
      await childBus.flush();
      return a.gateway.manager.isConnected(bIp);
    }, { timeoutMs: 15_000, intervalMs: 200, message: "old b connected" });
    await waitFor(() => a.gateway.manager.isConnected(bIp), { timeoutMs: 15_000, message: "old b connected" });
    const old = a.gateway.manager.get(bIp)!;

    // Freeze the old process: its socket stays open but nobody answers on it.
    child.kill("SIGSTOP");
    const { key } = await NodeKey.loadOrCreate(keyFile);
    const b = await startNode(43, { nodeKey: key });
    nodes.push(b);
    await dialVia(b, a);
    await waitFor(() => a.gateway.manager.get(bIp) !== old && a.gateway.manager.isConnected(bIp), {
      message: "new b replaced the old connection",
    });
    assert.equal(a.gateway.manager.connections().length, 1);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_duplicates_resolved_total", { rule: "peer_restarted", kept: "new" }), 1);
    assert.equal(old.closeInfo?.reason, DisconnectReason.DUPLICATE);
    // The old socket is gone at the OS level too, even though its peer is frozen.
    await waitFor(() => a.gateway.manager.socketCount(bIp) === 1, { message: "one OS socket left" });
    child.kill("SIGKILL");
  });

  test("a P2P port held by one of this host's outbound connections stops the start with a line naming the holder and the sysctl that keeps it", async () => {
    const nats = await startNatsServer();
    cleanups.push(() => nats.stop());
    const dir = await tempDir("gw-held-port-");
    cleanups.push(dir.remove);
    const held = await holdOutboundPort();
    cleanups.push(() => held.close());
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        NATS_URL: nats.url,
        P2P_HOST: "127.0.0.1",
        P2P_PORT: String(held.port),
        GRPC_PORT: String(await freePort()),
        METRICS_PORT: String(await freePort()),
        NODE_KEY_FILE: join(dir.path, "node.key"),
        ADMISSION_WAIT: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 1, out);
    const fatal = out.split("\n").find((l) => l.includes("failed to start"));
    assert.ok(fatal, out);
    const message = (JSON.parse(fatal) as { err: { message: string } }).err.message;
    assert.match(message, new RegExp(`^cannot listen for peers on 127\\.0\\.0\\.1:${held.port}: .*EADDRINUSE`));
    assert.match(message, new RegExp(`an outbound connection holds it .*ip_local_reserved_ports=(.*,)?${held.port}(,|\\)|$)`));
  });

  test("a bad environment variable stops the service with one line naming it", () => {
    const r = spawnSync(process.execPath, [MAIN], { env: { PATH: process.env.PATH, PING_INTERVAL: "often" }, encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), 'invalid configuration: PING_INTERVAL="often": expected a duration such as 500ms, 10s, 2m (at least 10ms)');
    const r2 = spawnSync(process.execPath, [MAIN], { env: { PATH: process.env.PATH, NAMED_PEERS: "127.0.0.2,nonsense" }, encoding: "utf8" });
    assert.equal(r2.status, 2);
    assert.match(r2.stderr.trim(), /^invalid configuration: NAMED_PEERS="127.0.0.2,nonsense": expected a comma-separated list of IP addresses$/);
  });
});
