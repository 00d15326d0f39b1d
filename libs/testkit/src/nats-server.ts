import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { freePort } from "./free-port.js";
import { tempDir } from "./temp-dir.js";

export interface NatsServerOptions {
  /** Default true, as on every node: the services keep their state in JetStream KV buckets. */
  jetstream?: boolean;
  host?: string;
  user?: string;
  pass?: string;
  /**
   * A configuration file (users and their permissions, say): read at start
   * and again by `reload()`. The command line's address, port and store win.
   */
  configFile?: string;
  /** Serve the monitoring endpoints (/connz, /jsz...) on a free port: `monitorUrl`. Default false. */
  monitor?: boolean;
  /** The server's environment on top of ours (the `$VAR` references of a configuration file). */
  env?: Record<string, string>;
}

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir?: string;
  /** http://host:port of the monitoring endpoints, with `monitor`. */
  readonly monitorUrl?: string;
  /** The server's process id (benches read its CPU time); a new one after restart. */
  readonly pid: number;
  /**
   * Stops the server and starts it again on the same port and JetStream
   * store, as a host's NATS restarts: clients reconnect, streams (file
   * storage) are kept, memory-stored consumers are gone. With `emptyStore`
   * the store is emptied first, as a NATS whose volume was lost starts:
   * every stream and bucket is gone.
   */
  restart(o?: { emptyStore?: boolean }): Promise<void>;
  /** Re-reads the configuration file (SIGHUP), as an operator's reload does; resolves once the server says it did. */
  reload(): Promise<void>;
  /** What the server has logged since it (re)started, its last 4 MB (a test's "Permissions Violation" lines...). */
  log(): string;
  stop(): Promise<void>;
}

/** nats-server from PATH, or Debian's /usr/sbin (not on every user's PATH). */
export function natsServerBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/local/bin", "/usr/bin"])) {
    if (dir && existsSync(`${dir}/nats-server`)) return `${dir}/nats-server`;
  }
  return undefined;
}

/** Starts a real nats-server on a free port and waits until it is ready. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = natsServerBinary();
  if (!bin) throw new Error("nats-server not found on PATH: apt-get install -y nats-server");
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await startOnce(bin, opts);
    } catch (err) {
      lastError = err as Error;
      if (!/address already in use/i.test(lastError.message)) throw lastError;
    }
  }
  throw lastError!;
}

async function startOnce(bin: string, opts: NatsServerOptions): Promise<NatsServerHandle> {
  const host = opts.host ?? "127.0.0.1";
  const port = await freePort(host);
  const args = ["-a", host, "-p", String(port)];
  const store = opts.jetstream !== false ? await tempDir("nats-js-") : undefined;
  if (opts.configFile !== undefined && store) {
    // JetStream from the configuration, not the command line: a reload of a file without it turns JetStream off.
    const main = join(store.path, "server.conf");
    writeFileSync(main, `jetstream { store_dir: ${JSON.stringify(store.path)} }\ninclude ${JSON.stringify(relative(store.path, opts.configFile))}\n`);
    args.push("-c", main);
  } else {
    if (store) args.push("-js", "-sd", store.path);
    if (opts.configFile !== undefined) args.push("-c", opts.configFile);
  }
  if (opts.user !== undefined) args.push("--user", opts.user, "--pass", opts.pass ?? "");
  const monitorPort = opts.monitor ? await freePort(host) : undefined;
  if (monitorPort !== undefined) args.push("-m", String(monitorPort));
  const env = { ...process.env, ...opts.env };
  let server: RunningServer;
  try {
    server = await spawnServer(bin, args, env);
  } catch (err) {
    await store?.remove();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    url: `nats://${host}:${port}`,
    port,
    storeDir: store?.path,
    monitorUrl: monitorPort === undefined ? undefined : `http://${host}:${monitorPort}`,
    get pid() {
      return server.child.pid!;
    },
    async restart(o = {}) {
      await stop(server.child, server.exited);
      if (o.emptyStore && store) {
        // Everything but the configuration file this handle wrote there.
        for (const entry of await readdir(store.path)) if (entry !== "server.conf") await rm(join(store.path, entry), { recursive: true, force: true });
      }
      server = await spawnServer(bin, args, env);
    },
    async reload() {
      const said = server.untilLogged("Reloaded server configuration", "reload its configuration");
      server.child.kill("SIGHUP");
      await said;
    },
    log: () => server.output(),
    stop() {
      stopped ??= stop(server.child, server.exited).then(() => store?.remove());
      return stopped;
    },
  };
}

interface RunningServer {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  /** Resolves once the server logs `phrase` (from now on), within 10 s; rejects if it does not, or exits first. */
  untilLogged(phrase: string, what: string): Promise<void>;
}

/** The server's log kept for `log()`: its last 4 MB. */
const LOG_KEPT_CHARS = 4_000_000;
const LOGGED_WITHIN_MS = 10_000;

/** Spawns nats-server and resolves once it is ready (killing it if it never is). */
async function spawnServer(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunningServer> {
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"], env });
  let output = "";
  // The listener also keeps the pipe drained, so the child never blocks on it.
  child.stderr!.on("data", (d: Buffer) => {
    output = (output + d.toString()).slice(-LOG_KEPT_CHARS);
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const untilLogged = (phrase: string, what: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      // Only what is logged from now on, each chunk with the end of the one before (a phrase split across two).
      let tail = "";
      const done = (err?: Error) => {
        clearTimeout(timer);
        child.stderr!.off("data", onData);
        if (err) reject(err);
        else resolve();
      };
      const onData = (d: Buffer) => {
        tail = tail.slice(-(phrase.length - 1)) + d.toString();
        if (tail.includes(phrase)) done();
      };
      const timer = setTimeout(() => done(new Error(`nats-server did not ${what} within ${LOGGED_WITHIN_MS / 1000}s:\n${output}`)), LOGGED_WITHIN_MS);
      child.stderr!.on("data", onData);
      void exited.then((code) => done(new Error(`nats-server exited with ${code}:\n${output}`)));
    });
  try {
    await untilLogged("Server is ready", "get ready");
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return { child, exited, output: () => output, untilLogged };
}

async function stop(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
