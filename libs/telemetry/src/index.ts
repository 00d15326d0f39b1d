export { createLogger, type Logger, type LoggerOptions } from "./logger.js";
export { createRegistry, type RegistryOptions } from "./registry.js";
export { PeerLabeler } from "./peer-labeler.js";
export { startTelemetryServer, TelemetryError, type ReadinessCheck, type TelemetryServer, type TelemetryServerOptions } from "./telemetry-server.js";
export { LogThrottle } from "./log-throttle.js";
