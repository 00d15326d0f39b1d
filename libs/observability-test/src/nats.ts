import { spawn } from "node:child_process";
import { copyFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, natsServerBinary, tempDir } from "@timenet/testkit";

export interface ConfiguredNats {
  readonly url: string;
  /** Everything the server has logged so far (e.g. its "Permissions Violation" lines). */
  log(): string;
  stop(): Promise<void>;
}

export interface ConfiguredNatsOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** The server's environment on top of ours (`$VAR` references of the config). */
  env?: Record<string, string>;
  /** Files copied beside nats.conf (for `include ./name`): name -> path. */
  files?: Record<string, string>;
}

/**
 * A nats-server with JetStream and a configuration file of our choosing:
 * testkit's startNatsServer has no `max_payload`, which a test of the
 * gateway's NATS publish errors needs (one host's NATS larger than another's).
 */
export async function startNatsWithConfig(extraConfig: string, o: ConfiguredNatsOptions = {}): Promise<ConfiguredNats> {
  const bin = natsServerBinary();
  if (!bin) throw new Error("nats-server not found on PATH: apt-get install -y nats-server");
  const host = o.host ?? "127.0.0.1";
  const dir = await tempDir("nats-conf-");
  const port = await freePort(host);
  const conf = join(dir.path, "nats.conf");
  for (const [name, path] of Object.entries(o.files ?? {})) await copyFile(path, join(dir.path, name));
  await writeFile(conf, `listen: ${host}:${port}\n${extraConfig}\njetstream {\n  store_dir: "${join(dir.path, "js")}"\n}\n`);
  const child = spawn(bin, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...o.env } });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    // Kept (bounded) for the caller's log checks; the listener also keeps the pipe drained.
    child.stderr.on("data", (d: Buffer) => {
      output = (output + d.toString()).slice(-4_000_000);
      if (output.includes("Server is ready")) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    void exited.then(() => resolve(false));
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    await dir.remove();
  };
  if (!ready) {
    child.kill("SIGKILL");
    await stop();
    throw new Error(`nats-server (-c ${conf}) did not start:\n${output}`);
  }
  return { url: `nats://${host}:${port}`, log: () => output, stop };
}
