import { copyFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startNatsServer, tempDir } from "@timenet/testkit";

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
 * A nats-server with JetStream and `extraConfig` as its configuration file
 * (testkit's startNatsServer with a config file): a test of the gateway's
 * NATS publish errors needs one host's `max_payload` smaller than
 * another's, a node's NATS its users.conf beside it.
 */
export async function startNatsWithConfig(extraConfig: string, o: ConfiguredNatsOptions = {}): Promise<ConfiguredNats> {
  const dir = await tempDir("nats-conf-");
  try {
    const conf = join(dir.path, "nats.conf");
    for (const [name, path] of Object.entries(o.files ?? {})) await copyFile(path, join(dir.path, name));
    await writeFile(conf, `${extraConfig}\n`);
    const nats = await startNatsServer({ jetstream: true, configFile: conf, ...(o.host ? { host: o.host } : {}), ...(o.env ? { env: o.env } : {}) });
    return {
      url: nats.url,
      log: () => nats.log(),
      stop: async () => {
        await nats.stop();
        await dir.remove();
      },
    };
  } catch (err) {
    await dir.remove();
    throw err;
  }
}
