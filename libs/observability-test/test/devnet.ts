// The devnet library (deploy/devnet/network.mjs) for tests of whole nodes:
// every service a real process on its own NATS user, as on a host.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { tempDir } from "@timenet/testkit";
import { DEPLOY } from "./network.js";

export interface Devnet {
  readonly logs: string;
  ipOf(k: number): string;
  readonly ports: { p2p: number; services: Record<string, { grpc: number; metrics: number }> };
  restartNats(k: number, o?: { emptyStore?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

interface DevnetLib {
  startDevnet(o: Record<string, unknown>): Promise<Devnet>;
  metricsText(url: string): Promise<string>;
  sample(text: string, name: string, labels?: Record<string, string>): number | undefined;
}

const lib = (await import(pathToFileURL(join(DEPLOY, "devnet", "network.mjs")).href)) as DevnetLib;

/** A devnet in a temp dir of its own: `start` as startDevnet, `stop` stops it and removes the dir. */
export async function tempDevnet(prefix: string) {
  const dir = await tempDir(prefix);
  let net: Devnet | undefined;
  return {
    async start(o: Record<string, unknown>): Promise<Devnet> {
      net = await lib.startDevnet({ dir: dir.path, reset: true, ...o });
      return net;
    },
    async stop(): Promise<void> {
      await net?.stop();
      await dir.remove();
    },
  };
}

/** Node k's service's /metrics text ("" when it does not answer). */
const metricsText = (net: Devnet, k: number, service: string): Promise<string> => lib.metricsText(`http://${net.ipOf(k)}:${net.ports.services[service]!.metrics}/metrics`);

/** The sum of a metric's samples with these labels on node k's service, 0 when absent. */
export const metricOf = async (net: Devnet, k: number, service: string, name: string, labels?: Record<string, string>): Promise<number> =>
  lib.sample(await metricsText(net, k, service), name, labels) ?? 0;
