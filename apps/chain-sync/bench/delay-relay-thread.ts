import { once } from "node:events";
import { Worker } from "node:worker_threads";
import type { DelayRelay, DelayRelayOptions } from "./delay-relay.js";

/**
 * A delaying relay on a worker thread of its own. On the bench's main thread
 * (where in-process replicas run) a relay's timers fired late whenever a
 * replica decoded or put a batch, as if the network stalled while the node
 * worked: on its own thread it forwards on time. Its CPU is still the bench
 * process's.
 */
export async function startDelayRelayThread(o: DelayRelayOptions): Promise<DelayRelay> {
  const worker = new Worker(new URL("./delay-relay-worker.js", import.meta.url), { workerData: o, name: `relay ${o.host}` });
  const [first] = (await Promise.race([once(worker, "message"), once(worker, "error").then(([err]) => Promise.reject(err as Error))])) as [string];
  if (first !== "ready") throw new Error(`relay ${o.host}: unexpected "${first}"`);
  return {
    host: o.host,
    port: o.port,
    async stop() {
      worker.postMessage("stop");
      await once(worker, "message");
      await worker.terminate();
    },
  };
}
