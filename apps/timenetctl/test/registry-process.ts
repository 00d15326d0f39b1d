import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startServiceProcess, tempDir } from "@timenet/testkit";

/**
 * The peer-registry's entry point, built by its own package. From
 * apps/timenetctl/dist/test/ three levels up is apps/.
 */
export const REGISTRY_MAIN = fileURLToPath(new URL("../../../peer-registry/dist/src/main.js", import.meta.url));

export interface RegistryProcess {
  readonly grpcPort: number;
  stop(): Promise<void>;
}

/** Starts the real peer-registry as a child process against `natsUrl`; resolves once /readyz answers 200. */
export async function startRegistry(natsUrl: string): Promise<RegistryProcess> {
  const dir = await tempDir("timenetctl-registry-");
  const [grpcPort, metricsPort] = [await freePort(), await freePort()];
  const service = await startServiceProcess({
    main: REGISTRY_MAIN,
    env: {
      NATS_URL: natsUrl,
      REGISTRY_DB_PATH: join(dir.path, "db"),
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: String(grpcPort),
      METRICS_HOST: "127.0.0.1",
      METRICS_PORT: String(metricsPort),
      // No gateway runs here: the registry only watches the (empty) state a gateway would publish.
      PUBLIC_IP: "127.0.0.1",
      LOG_LEVEL: "warn",
      NODE_NAME: "timenetctl-test",
    },
    readyUrl: `http://127.0.0.1:${metricsPort}/readyz`,
    timeoutMs: 20_000,
  }).catch(async (err: unknown) => {
    await dir.remove();
    throw err;
  });
  return {
    grpcPort,
    async stop() {
      await service.stop();
      await dir.remove();
    },
  };
}
