// The local devnet as a library: startDevnet() starts N nodes (node k on
// 127.0.0.k, its own nats-server, every service a real process, logs in
// devnet/logs/) and returns handles to sample and stop them. Used by
// `npm run devnet` (devnet.mjs), `npm run soak` (soak.mjs) and `npm run attack`
// (apps/p2p-gateway/attack/, on its own addresses and directory).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePackages, findExecutable } from "../../tools/machine/ensure-machine.mjs";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const ipOf = (k) => `127.0.0.${k}`;

/** nats-server from PATH or Debian's /usr/sbin; installs Debian's package when root, else one line and exit 1. */
export function ensureNatsServer() {
  ensurePackages(["nats-server"]);
  return findExecutable("nats-server");
}

/** Builds every package (Nx, cached); exits with one line on failure. */
export function build() {
  console.log("devnet: building (Nx, cached)...");
  const r = spawnSync("npx", ["nx", "run-many", "-t", "build", "--outputStyle=static"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, NX_DAEMON: "false" } });
  if (r.status !== 0) {
    console.error("devnet: the build failed (run `npx nx run-many -t build` to see why)");
    process.exit(1);
  }
}

const main = (app) => join(ROOT, "apps", app, "dist/src/main.js");

async function waitReady(url, name, logs, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} not ready at ${url} within ${timeoutMs} ms (see ${join(logs, `${name}.log`)})`);
}

async function waitPort(host, port, logs, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise((r) => {
      const s = connect({ host, port });
      s.once("connect", () => {
        s.destroy();
        r(true);
      });
      s.once("error", () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${host}:${port} (see ${logs})`);
}

/**
 * Starts the network. Options: nodes, workers (chain-sync replicas per node),
 * producers (nodes 1..P run a block-producer), reset (wipe the directory), env
 * (extra variables for every service), onExit(name, code) for unexpected exits,
 * nodeArgs (Node/V8 flags for every service; TIMENET_CPU_PROF_DIR and
 * TIMENET_CPU_PROF_MATCH in the environment add --cpu-prof, as for tests and
 * benches), ipBase (node k listens on `${ipBase}.${k}`; default "127.0.0", so a second
 * devnet on other addresses does not collide with the first), dir (data and
 * logs; default devnet/ in the repository), network (every service's NETWORK:
 * default "devnet"; a network file with a devnet name changes the intervals).
 * The handle's ipOf(k) is node k's address, processes() each service's
 * name and pid, and restartNats(k, { emptyStore }) restarts node k's NATS.
 */
/**
 * Keeps the port plan's ports out of the kernel's ephemeral range (the gRPC
 * ports 50051-50055 lie inside 32768-60999): else an outbound connection that
 * is given, say, 127.0.0.1:50052 as its local port makes n1's registry fail to
 * listen (a CI soak failed so once). As root it writes
 * net.ipv4.ip_local_reserved_ports (kept until reboot; a listen on a reserved
 * port still works); otherwise, or where /proc/sys is read-only (a container),
 * it prints the one command that does it and goes on.
 */
export async function reservePlanPorts(plan) {
  const { formatPorts, reserveCommand, reserveEphemeralPorts } = await import("../../libs/net-address/dist/src/index.js");
  const ports = [plan.p2p, plan.nats, ...Object.values(plan.services).flatMap((s) => [s.grpc, s.metrics])];
  const out = reserveEphemeralPorts(ports);
  if (out.kind === "reserved") {
    console.log(`devnet: reserved ports ${formatPorts(out.state.exposed)} from the ephemeral range ${out.state.range.join("-")} (net.ipv4.ip_local_reserved_ports=${out.state.wanted}) so that no outbound connection takes them`);
  } else if (out.kind === "refused") {
    console.log(
      `devnet: ports ${formatPorts(out.state.exposed)} lie in the ephemeral range ${out.state.range.join("-")} and cannot be reserved here (${out.reason}): a service may fail to start with EADDRINUSE; prevent it with  sudo ${reserveCommand(out.state)}`,
    );
  }
}

export async function startDevnet(o) {
  const { nodes, workers, producers } = o;
  const ipBase = o.ipBase ?? "127.0.0";
  const nodeIp = (k) => `${ipBase}.${k}`;
  const DEVNET = o.dir ?? join(ROOT, "devnet");
  const LOGS = join(DEVNET, "logs");
  const DATA = join(DEVNET, "data");
  if (o.reset) rmSync(DEVNET, { recursive: true, force: true });
  mkdirSync(LOGS, { recursive: true });
  mkdirSync(DATA, { recursive: true });
  const nats = ensureNatsServer();
  // The port plan, from the built config lib (startDevnet runs after the build).
  const { PORT_PLAN } = await import("../../libs/config/dist/src/index.js");
  await reservePlanPorts(PORT_PLAN);
  // NATS as on a host: one user per service (the generated deploy/nats/users.conf), random passwords per run.
  const { NATS_PASSWORD_ENV } = await import("../../libs/proto/dist/src/index.js");
  const natsPasswords = Object.fromEntries(Object.values(NATS_PASSWORD_ENV).map((v) => [v, `p${randomBytes(24).toString("hex")}`]));
  const natsAuth = (user) => ({ NATS_USER: user, NATS_PASS: natsPasswords[NATS_PASSWORD_ENV[user]] });
  const grpcPort = (service) => String(PORT_PLAN.services[service].grpc);
  const metricsPort = (service) => String(PORT_PLAN.services[service].metrics);
  const children = [];
  let stopping = false;
  // On the command line: NODE_OPTIONS refuses --cpu-prof and most V8 flags.
  const { cpuProfileArgs } = await import("../../libs/testkit/dist/src/index.js");
  const nodeArgs = (mainPath) => [...(o.nodeArgs ?? []), ...cpuProfileArgs(mainPath)];

  const run = (name, command, args, env) => {
    // The service writes its log file itself (stdout and stderr), not through pipes to this process: its
    // lines are kept after the launcher is gone, and a write to a pipe nobody reads never holds up its stop.
    const log = openSync(join(LOGS, `${name}.log`), "a");
    let child;
    try {
      child = spawn(command, command === process.execPath ? [...nodeArgs(args[0]), ...args] : args, { cwd: ROOT, env: { PATH: process.env.PATH, ...o.env, ...env }, stdio: ["ignore", log, log] });
    } finally {
      closeSync(log);
    }
    const entry = { name, child, exited: false, stopped: false, command, args, env };
    child.on("exit", (code, signal) => {
      entry.exited = true;
      if (!stopping && !entry.stopped) o.onExit?.(name, code ?? signal);
    });
    children.push(entry);
  };

  /**
   * Stops node k's nats-server and starts it again on its port, as a host's
   * NATS restarts (services reconnect). With `emptyStore` its JetStream store
   * is wiped first, as a NATS whose volume was lost starts: every stream and
   * bucket is gone.
   */
  const restartNats = async (k, { emptyStore = false } = {}) => {
    const entry = children.find((c) => c.name === `n${k}-nats` && !c.exited);
    if (!entry) throw new Error(`node ${k} runs no nats-server`);
    entry.stopped = true;
    await new Promise((r) => {
      entry.child.once("exit", r);
      entry.child.kill("SIGTERM");
    });
    if (emptyStore) {
      const store = join(DATA, `n${k}`, "nats");
      rmSync(store, { recursive: true, force: true });
      mkdirSync(store, { recursive: true });
    }
    run(entry.name, entry.command, entry.args, entry.env);
    await waitPort(nodeIp(k), PORT_PLAN.nats, LOGS);
  };

  const startNode = async (k) => {
    const ip = nodeIp(k);
    const dir = join(DATA, `n${k}`);
    mkdirSync(join(dir, "nats"), { recursive: true });
    const natsConf = join(dir, "nats.conf");
    copyFileSync(join(ROOT, "deploy", "nats", "users.conf"), join(dir, "users.conf"));
    writeFileSync(natsConf, `listen: ${ip}:${PORT_PLAN.nats}\nmax_payload: 8MB\njetstream {\n  store_dir: "${join(dir, "nats")}"\n}\ninclude ./users.conf\n`);
    run(`n${k}-nats`, nats, ["-c", natsConf], natsPasswords);
    await waitPort(ip, PORT_PLAN.nats, LOGS);
    const common = { NODE_NAME: `n${k}`, NATS_URL: `nats://${ip}:${PORT_PLAN.nats}`, NETWORK: o.network ?? "devnet", LOG_LEVEL: "info", LOG_PRETTY: "false", GRPC_HOST: ip, METRICS_HOST: ip };

    run(`n${k}-block-store`, process.execPath, [main("block-store")], { ...common, ...natsAuth("block-store"), STORE_DB_PATH: join(dir, "blocks"), GRPC_PORT: grpcPort("block-store"), METRICS_PORT: metricsPort("block-store") });
    await waitReady(`http://${ip}:${metricsPort("block-store")}/readyz`, `n${k}-block-store`, LOGS);

    const others = Array.from({ length: nodes }, (_, i) => i + 1).filter((j) => j !== k);
    run(`n${k}-p2p-gateway`, process.execPath, [main("p2p-gateway")], {
      ...common,
      ...natsAuth("p2p-gateway"),
      P2P_HOST: ip,
      P2P_PORT: String(PORT_PLAN.p2p),
      NODE_KEY_FILE: join(dir, "node.key"),
      GRPC_PORT: grpcPort("p2p-gateway"),
      METRICS_PORT: metricsPort("p2p-gateway"),
      NAMED_PEERS: others.map(nodeIp).join(","),
    });
    await waitReady(`http://${ip}:${metricsPort("p2p-gateway")}/readyz`, `n${k}-p2p-gateway`, LOGS);

    run(`n${k}-peer-registry`, process.execPath, [main("peer-registry")], {
      ...common,
      ...natsAuth("peer-registry"),
      PUBLIC_IP: ip,
      BOOTSTRAP_PEERS: others.map((j) => `${nodeIp(j)}:${PORT_PLAN.p2p}`).join(","),
      // The devnet's nodes share one /24: they allow-list each other (the limits are for strangers).
      ALLOW_LIST: others.map(nodeIp).join(","),
      REGISTRY_DB_PATH: join(dir, "peers"),
      GRPC_PORT: grpcPort("peer-registry"),
      METRICS_PORT: metricsPort("peer-registry"),
    });
    for (let w = 0; w < workers; w++) {
      // The first replica has the port plan's ports; the others take ephemeral ones.
      run(`n${k}-chain-sync-${w}`, process.execPath, [main("chain-sync")], {
        ...common,
        ...natsAuth("chain-sync"),
        WORKER_ID: `n${k}-w${w}`,
        BLOCK_STORE_GRPC: `${ip}:${grpcPort("block-store")}`,
        GRPC_PORT: w === 0 ? grpcPort("chain-sync") : "0",
        METRICS_PORT: w === 0 ? metricsPort("chain-sync") : "0",
      });
    }
    if (k <= producers) {
      run(`n${k}-block-producer`, process.execPath, [main("block-producer")], {
        ...common,
        ...natsAuth("block-producer"),
        PRODUCER_DEVNET_INDEX: String(k - 1),
        BLOCK_STORE_GRPC: `${ip}:${grpcPort("block-store")}`,
        GRPC_PORT: grpcPort("block-producer"),
        METRICS_PORT: metricsPort("block-producer"),
      });
    }
  };

  // A launcher that dies (an uncaught error in the script that started the devnet) takes its services with
  // it: else they hold the devnet's addresses and ports until killed by hand. (A SIGKILL cannot be caught.)
  const stopOnLauncherExit = () => {
    for (const c of children) if (!c.exited) c.child.kill("SIGTERM");
  };
  process.once("exit", stopOnLauncherExit);

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.removeListener("exit", stopOnLauncherExit);
    // Producers first, stores and NATS last, so nothing writes to a store that is gone.
    for (const kind of ["block-producer", "chain-sync", "peer-registry", "p2p-gateway", "block-store", "nats"]) {
      const group = children.filter((c) => c.name.includes(kind) && !c.exited);
      await Promise.all(
        group.map(
          (c) =>
            new Promise((r) => {
              const t = setTimeout(() => c.child.kill("SIGKILL"), 10_000);
              c.child.once("exit", () => {
                clearTimeout(t);
                r();
              });
              c.child.kill("SIGTERM");
            }),
        ),
      );
    }
  };

  try {
    for (let k = 1; k <= nodes; k++) {
      o.onNodeStarting?.(k);
      await startNode(k);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const processes = () => children.filter((c) => !c.exited).map((c) => ({ name: c.name, pid: c.child.pid }));
  // The devnet as a fleet for `timenetctl status --all --hosts <fleetFile>`
  // (node k by its address; the port plan's ports, as on a real host).
  const fleetFile = join(DEVNET, "fleet.json");
  writeFileSync(fleetFile, `${JSON.stringify(Array.from({ length: nodes }, (_, i) => ({ name: `n${i + 1}`, address: nodeIp(i + 1) })), null, 2)}\n`);
  // natsOperator: the read-only NATS user for observers (the soak, the attack's honest nodes).
  return { nodes, stop, restartNats, logs: LOGS, ports: PORT_PLAN, ipOf: nodeIp, processes, fleetFile, natsOperator: { user: "operator", pass: natsPasswords[NATS_PASSWORD_ENV.operator] } };
}

/** Sum of a metric's samples (matching labels) in a /metrics text; undefined when absent. */
export function sample(text, name, labels = {}) {
  let sum = 0;
  let seen = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([key, v]) => got[key] === v)) {
      sum += Number(m[4]);
      seen = true;
    }
  }
  return seen ? sum : undefined;
}

export async function metricsText(url) {
  try {
    return await (await fetch(url, { signal: AbortSignal.timeout(800) })).text();
  } catch {
    return "";
  }
}
