// The block-store under test in the serving bench, in a process of its own
// (so the bench's simulated gateway and gRPC client do not share its event
// loop). Options as JSON in argv[2]; the ports go back over the IPC channel.
import { DEVNET } from "@timenet/chain";
import { createLogger } from "@timenet/telemetry";
import { startBlockStore, type BlockStoreOptions } from "../src/index.js";

const given = JSON.parse(process.argv[2] ?? "{}") as Partial<BlockStoreOptions> & { natsUrl: string; dbPath: string };
const store = await startBlockStore({
  node: "bench",
  network: DEVNET,
  grpcPort: 0,
  metricsPort: 0,
  logger: createLogger({ service: "block-store", node: "bench", level: process.env.BENCH_LOG_LEVEL ?? "warn", pretty: false }),
  ...given,
});
process.send?.({ grpcPort: store.grpcPort, metricsPort: store.metricsPort });
// The bench ends us by closing the channel (or SIGTERM).
const stop = () => void store.stop().then(() => process.exit(0));
process.once("disconnect", stop);
process.once("SIGTERM", stop);
