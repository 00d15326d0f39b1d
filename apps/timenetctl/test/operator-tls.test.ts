// The authenticated operator plane on real processes: a peer-registry bound
// to 0.0.0.0 (beyond loopback) refuses to start without OPERATOR_TLS_DIR and
// refuses unauthenticated callers with it; timenetctl (the built CLI) works
// with the operator's client cert from --tls-dir, TIMENET_TLS_DIR or its
// config file; /metrics needs the cert, /healthz does not; status --all works
// across two TLS nodes (block-store, p2p-gateway, chain-sync dialing its
// block-store over mutual TLS). Every listener is on 127.0.3.11-12 (or 0.0.0.0).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { createGrpcClient, type MutualTls } from "@timenet/grpc";
import { loadTlsDir, writeOperatorCa, writeOperatorCert } from "@timenet/operator-tls";
import { PeerRegistryService } from "@timenet/proto";
import { freePort, nodePoolOf, startNatsServer, startServiceProcess, tempDir, type NatsServerHandle, type ServiceProcess } from "@timenet/testkit";
import { runCliProcess } from "./cli-process.js";
import { httpsGet, httpsStatus } from "./https-get.js";
import { startNode, type TestNode } from "./node-process.js";
import { REGISTRY_MAIN } from "./registry-process.js";

const IP_A = "127.0.3.11";
const IP_B = "127.0.3.12";
const HOST_DNS = ["p2p-gateway", "peer-registry", "chain-sync", "block-store", "block-producer"];

let dir: Awaited<ReturnType<typeof tempDir>>;
let nats: NatsServerHandle;
let registry: ServiceProcess;
let a: TestNode;
let b: TestNode;
// A pool: if one node fails to start, the other is still stopped.
const { node, stopAll } = nodePoolOf(startNode);
const ports = { grpc: 0, metrics: 0 };
const tls = { hostA: "", hostB: "", alice: "", mallory: "" };
let alice: MutualTls;
let mallory: MutualTls;

function registryEnv(extra: Record<string, string>): Record<string, string> {
  return {
    NATS_URL: nats.url,
    REGISTRY_DB_PATH: join(dir.path, `db-${Math.random().toString(36).slice(2)}`),
    GRPC_PORT: String(ports.grpc),
    METRICS_PORT: String(ports.metrics),
    PUBLIC_IP: IP_A,
    LOG_LEVEL: "warn",
    NODE_NAME: "tls-test",
    ...extra,
  };
}

/** Runs the registry's main.js to its exit (a refused start): its code and stderr. */
function runToExit(env: Record<string, string>): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [REGISTRY_MAIN], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => void (err += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, err }));
  });
}

before(async () => {
  dir = await tempDir("timenetctl-operator-tls-");
  const ca = join(dir.path, "ca");
  const otherCa = join(dir.path, "other-ca");
  await writeOperatorCa(ca);
  await writeOperatorCa(otherCa);
  for (const [key, name, ip, caDir] of [
    ["hostA", "host-a", IP_A, ca],
    ["hostB", "host-b", IP_B, ca],
    ["alice", "alice", undefined, ca],
    ["mallory", "mallory", undefined, otherCa],
  ] as const) {
    tls[key] = join(dir.path, key);
    await writeOperatorCert(caDir, tls[key], { name, dns: ip ? HOST_DNS : [], ips: ip ? [ip] : [] });
  }
  alice = loadTlsDir(tls.alice);
  mallory = loadTlsDir(tls.mallory);
  nats = await startNatsServer({ jetstream: true });
  [ports.grpc, ports.metrics] = [await freePort(IP_A), await freePort(IP_A)];
  registry = await startServiceProcess({
    main: REGISTRY_MAIN,
    env: registryEnv({ GRPC_HOST: "0.0.0.0", METRICS_HOST: "0.0.0.0", OPERATOR_TLS_DIR: tls.hostA }),
    readyUrl: `https://${IP_A}:${ports.metrics}/readyz`,
    readyCheck: async () => (await httpsStatus(`https://${IP_A}:${ports.metrics}/readyz`, { ca: alice.ca })) === 200,
  });
  [a, b] = await Promise.all([
    node(0, { ip: IP_A, chainSync: true, tls: { dir: tls.hostA, client: alice } }),
    node(0, { ip: IP_B, tls: { dir: tls.hostB, client: alice } }),
  ]);
  await a.extendChain(2, "main");
  await b.extendChain(2, "main");
});

after(async () => {
  await Promise.all([stopAll(), registry?.stop()]);
  await nats?.stop();
  await dir?.remove();
});

test("bound beyond loopback without OPERATOR_TLS_DIR: exit 2 with one line naming the variable", async () => {
  const grpc = await runToExit(registryEnv({ GRPC_HOST: "0.0.0.0", METRICS_HOST: IP_A }));
  assert.equal(grpc.code, 2);
  assert.equal(grpc.err, 'GRPC_HOST=0.0.0.0 is beyond loopback: set OPERATOR_TLS_DIR (see deploy/README.md "Operator TLS") or bind 127.0.0.1\n');
  const metrics = await runToExit(registryEnv({ GRPC_HOST: IP_A, METRICS_HOST: "0.0.0.0" }));
  assert.equal(metrics.code, 2);
  assert.match(metrics.err, /^METRICS_HOST=0\.0\.0\.0 is beyond loopback: set OPERATOR_TLS_DIR/);
  assert.equal(metrics.err.trim().split("\n").length, 1);
});

test("an invalid TLS directory stops the service with one line naming the file", async () => {
  const bad = join(dir.path, "bad-tls");
  mkdirSync(bad);
  for (const f of ["tls.crt", "tls.key"]) copyFileSync(join(tls.mallory, f), join(bad, f));
  copyFileSync(join(tls.hostA, "ca.crt"), join(bad, "ca.crt"));
  const r = await runToExit(registryEnv({ GRPC_HOST: "0.0.0.0", METRICS_HOST: "0.0.0.0", OPERATOR_TLS_DIR: bad }));
  assert.equal(r.code, 2);
  assert.equal(r.err, `OPERATOR_TLS_DIR=${bad}: ${join(bad, "tls.crt")} is not signed by the operator CA ${join(bad, "ca.crt")}\n`);
});

test("gRPC of the publicly bound registry refuses plaintext, TLS without a client cert, and a cert of another CA", async () => {
  const target = `${IP_A}:${ports.grpc}`;
  const attempts: Array<[string, MutualTls | undefined]> = [
    ["plaintext", undefined],
    ["no client cert", { ca: alice.ca } as MutualTls],
    ["another CA's client cert", { ca: alice.ca, cert: mallory.cert, key: mallory.key }],
  ];
  for (const [what, creds] of attempts) {
    const client = createGrpcClient(PeerRegistryService, target, { tls: creds });
    try {
      await assert.rejects(client.stats({}, { deadlineMs: 3000 }), (err: { code?: number }) => err.code === status.UNAVAILABLE, what);
    } finally {
      client.close();
    }
  }
  const ok = createGrpcClient(PeerRegistryService, target, { tls: alice });
  try {
    assert.ok(await ok.stats({}, { deadlineMs: 3000 }));
  } finally {
    ok.close();
  }
});

const stats = (env: Record<string, string | undefined>, ...args: string[]) =>
  runCliProcess(["stats", "--node", IP_A, "--registry-port", String(ports.grpc), "--timeout", "3000", ...args], 20_000, {
    TIMENET_TLS_DIR: undefined,
    XDG_CONFIG_HOME: join(dir.path, "no-config"),
    ...env,
  });

test("timenetctl takes the client cert from --tls-dir, TIMENET_TLS_DIR or the config file, in that order", async () => {
  const flag = await stats({}, "--tls-dir", tls.alice);
  assert.equal(flag.code, 0, flag.err);
  assert.match(flag.out, /\S/);
  const env = await stats({ TIMENET_TLS_DIR: tls.alice });
  assert.equal(env.code, 0, env.err);
  // The default config file under XDG_CONFIG_HOME, with a path relative to it.
  const xdg = join(dir.path, "xdg");
  mkdirSync(join(xdg, "timenet"), { recursive: true });
  writeFileSync(join(xdg, "timenet", "timenetctl.json"), JSON.stringify({ tlsDir: "../../alice" }));
  const config = await stats({ XDG_CONFIG_HOME: xdg });
  assert.equal(config.code, 0, config.err);
  const explicit = join(dir.path, "ctl.json");
  writeFileSync(explicit, JSON.stringify({ tlsDir: tls.mallory }));
  const wrong = await stats({}, "--config", explicit);
  assert.equal(wrong.code, 4);
  // The flag wins over the env, the env over the config file.
  const flagWins = await stats({ TIMENET_TLS_DIR: tls.mallory }, "--tls-dir", tls.alice, "--config", explicit);
  assert.equal(flagWins.code, 0, flagWins.err);
  const envWins = await stats({ TIMENET_TLS_DIR: tls.alice }, "--config", explicit);
  assert.equal(envWins.code, 0, envWins.err);
});

test("timenetctl without credentials, or with another CA's cert: one line saying so, exit 4", async () => {
  const none = await stats({});
  assert.equal(none.code, 4);
  assert.equal(none.err.trim().split("\n").length, 1, none.err);
  assert.match(none.err, /^timenetctl: peer-registry at 127\.0\.3\.11:\d+: it requires mutual TLS and timenetctl has no client certificate: give --tls-dir DIR/);
  const other = await stats({}, "--tls-dir", tls.mallory);
  assert.equal(other.code, 4);
  assert.equal(other.err.trim().split("\n").length, 1, other.err);
  assert.match(other.err, /TLS handshake failed: (it refused our client certificate|its certificate is not signed by our operator CA)/);
  const missing = await stats({}, "--tls-dir", join(dir.path, "nowhere"));
  assert.equal(missing.code, 2);
  assert.equal(missing.err, `timenetctl: TLS directory from --tls-dir: ${join(dir.path, "nowhere", "ca.crt")} does not exist\n`);
});

test("a TLS dir whose tls.crt is not of its ca.crt is refused before any call (exit 2, naming the file)", async () => {
  const mixed = join(dir.path, "mixed");
  mkdirSync(mixed);
  for (const f of ["tls.crt", "tls.key"]) copyFileSync(join(tls.mallory, f), join(mixed, f));
  copyFileSync(join(tls.alice, "ca.crt"), join(mixed, "ca.crt"));
  // Not a valid TLS dir (tls.crt is not of ca.crt): timenetctl refuses it before dialing.
  const r = await stats({}, "--tls-dir", mixed);
  assert.equal(r.code, 2);
  assert.match(r.err, /tls\.crt is not signed by the operator CA/);
});

test("status of a TLS node with --tls-dir: every service answers, chain-sync reached its block-store over mutual TLS", async () => {
  const closed = await freePort(IP_A);
  const args = ["status", "--node", IP_A, "--gateway-port", String(a.ports.gateway), "--sync-port", String(a.ports.sync), "--store-port", String(a.ports.store)];
  const r = await runCliProcess([...args, "--registry-port", String(ports.grpc), "--tls-dir", tls.alice, "--json"], 20_000, { TIMENET_TLS_DIR: undefined });
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out) as Record<string, { unreachable?: boolean; tip?: { height?: string | number } }>;
  for (const part of ["gateway", "chainSync", "blockStore", "registry"]) assert.equal(s[part]?.unreachable, undefined, `${part}: ${JSON.stringify(s[part])}`);
  assert.equal(Number(s.blockStore?.tip?.height), 2);
  const plain = await runCliProcess([...args, "--registry-port", String(closed)], 20_000, { TIMENET_TLS_DIR: undefined, XDG_CONFIG_HOME: join(dir.path, "no-config") });
  assert.equal(plain.code, 3); // status: an unreachable gateway is exit 3, its line says why
  assert.match(plain.err, /p2p-gateway at 127\.0\.3\.11:\d+: it requires mutual TLS/);
});

test("/metrics needs a client cert of the operator CA (403 otherwise); /healthz and /readyz do not", async () => {
  // httpsGet uses Node's pooled agent: later requests resume the TLS session of a /healthz
  // probe made without a cert, which must not count as a verified client.
  const base = `https://${IP_A}:${ports.metrics}`;
  assert.equal((await httpsGet(`${base}/healthz`, { ca: alice.ca })).status, 200);
  assert.equal((await httpsGet(`${base}/readyz`, { ca: alice.ca })).status, 200);
  assert.equal((await httpsGet(`${base}/metrics`, { ca: alice.ca })).status, 403);
  assert.equal((await httpsGet(`${base}/metrics`, { ca: alice.ca, cert: mallory.cert, key: mallory.key })).status, 403);
  const ok = await httpsGet(`${base}/metrics`, { ca: alice.ca, cert: alice.cert, key: alice.key });
  assert.equal(ok.status, 200);
  assert.match(ok.body, /^# HELP /m);
});

test("status --all across two TLS nodes works with credentials and says why without", async () => {
  await a.dial(b);
  await a.waitConnected(b);
  await b.waitConnected(a);
  const fleet = join(dir.path, "fleet.json");
  const hosts = [a, b].map((n) => ({ name: `host-${n.ip.split(".")[3]}`, address: n.ip, gateway_port: n.ports.gateway, store_port: n.ports.store }));
  writeFileSync(fleet, JSON.stringify(hosts));
  const all = (env: Record<string, string | undefined>) =>
    runCliProcess(["status", "--all", "--hosts", fleet, "--timeout", "3000"], 20_000, { TIMENET_TLS_DIR: undefined, XDG_CONFIG_HOME: join(dir.path, "no-config"), ...env });
  const r = await all({ TIMENET_TLS_DIR: tls.alice });
  assert.equal(r.code, 0, `${r.out}\n${r.err}`);
  assert.doesNotMatch(r.out, /unreachable|MISSING/);
  assert.match(r.out, /host-11 /);
  assert.match(r.out, /host-12 /);
  const none = await all({});
  assert.equal(none.code, 3);
  assert.match(none.out, /host-11: gateway .*requires mutual TLS/);
});
