import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startServiceProcess, writeBlockFile, type EncodedBlocks, type ServiceProcess } from "@timenet/testkit";

const SERVING_PEER_MAIN = fileURLToPath(new URL("../../../p2p-gateway/dist/bench/serving-peer.js", import.meta.url));

/** Source peers that answer from memory, one process for all (p2p-gateway's bench/serving-peer.ts). */
export interface ServingPeers {
  readonly endpoints: ReadonlyArray<{ ip: string; port: number }>;
  readonly process: ServiceProcess;
}

/** One serving peer on each of `ips`, holding `chain` (written to a file in `dir`), listening once this resolves. */
export async function startServingPeers(ips: readonly string[], chain: EncodedBlocks, dir: string): Promise<ServingPeers> {
  const file = join(dir, "chain.blocks");
  writeBlockFile(file, chain);
  const endpoints = await Promise.all(ips.map(async (ip) => ({ ip, port: await freePort(ip) })));
  const last = endpoints[endpoints.length - 1]!;
  const proc = await startServiceProcess({
    main: SERVING_PEER_MAIN,
    env: { SERVING_CHAIN: file, SERVING_LISTEN: endpoints.map((e) => `${e.ip}:${e.port}`).join(",") },
    readyUrl: `tcp://${last.ip}:${last.port}`,
    // It listens on the last address once every one is up: a connection accepted there is ready.
    readyCheck: () =>
      new Promise<boolean>((resolve) => {
        const s = connect({ host: last.ip, port: last.port });
        s.once("connect", () => (s.destroy(), resolve(true)));
        s.once("error", () => resolve(false));
      }),
  });
  return { endpoints, process: proc };
}
