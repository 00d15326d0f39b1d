export { freePort } from "./free-port.js";
export { median } from "./median.js";
export { tempDir } from "./temp-dir.js";
export { nextEvent, waitFor } from "./wait.js";
export { natsServerBinary, startNatsServer, type NatsServerHandle, type NatsServerOptions } from "./nats-server.js";
export { startServiceProcess, type ServiceProcess, type ServiceProcessOptions } from "./service-process.js";
export { nodePoolOf } from "./node-pool.js";
export { startTcpRelay, type RelayDirection, type RelayLink, type TcpRelay, type TcpRelayOptions } from "./tcp-relay.js";
export { skewedClockEnv } from "./skewed-clock.js";
