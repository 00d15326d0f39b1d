export { ConfigError } from "./config-error.js";
export { bool, bytes, custom, durationMs, formatDuration, int, list, oneOf, optional, str, type Spec } from "./spec.js";
export { atMost, describeSchema, loadConfigOrExit, parseConfig, type ConfigOf, type CrossCheck, type Env, type Schema } from "./parse-config.js";
export { serviceEnvSchema } from "./service-env.js";
export { isLoopbackHost, operatorPlaneRefusal } from "./loopback.js";
export { checkNatsCredentials, natsUrlHosts } from "./nats-credentials.js";
export { grpcAddress, PORT_PLAN, type ServiceName } from "./port-plan.js";
