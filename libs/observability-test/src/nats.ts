import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, natsServerBinary, tempDir } from "@timenet/testkit";

export interface ConfiguredNats {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A nats-server with JetStream and a configuration file of our choosing:
 * testkit's startNatsServer has no `max_payload`, which a test of the
 * gateway's NATS publish errors needs (one host's NATS larger than another's).
 */
export async function startNatsWithConfig(extraConfig: string): Promise<ConfiguredNats> {
  const bin = natsServerBinary();
  if (!bin) throw new Error("nats-server not found on PATH: apt-get install -y nats-server");
  const dir = await tempDir("nats-conf-");
  const port = await freePort();
  const conf = join(dir.path, "nats.conf");
  await writeFile(conf, `listen: 127.0.0.1:${port}\n${extraConfig}\njetstream {\n  store_dir: "${join(dir.path, "js")}"\n}\n`);
  const child = spawn(bin, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
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
  child.stderr.resume();
  return { url: `nats://127.0.0.1:${port}`, stop };
}
