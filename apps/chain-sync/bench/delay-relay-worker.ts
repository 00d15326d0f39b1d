// One delaying relay on its own thread (delay-relay-thread.ts starts it): what the relay
// stands for, the network, is not held up while the bench's own thread works.
import { parentPort, workerData } from "node:worker_threads";
import { startDelayRelay, type DelayRelayOptions } from "./delay-relay.js";

const relay = await startDelayRelay(workerData as DelayRelayOptions);
parentPort!.once("message", () => {
  void relay.stop().then(() => parentPort!.postMessage("stopped"));
});
parentPort!.postMessage("ready");
