export { ConfigError } from "./config-error.js";
export { bool, bytes, custom, durationMs, formatDuration, int, list, oneOf, optional, str, type Spec } from "./spec.js";
export { describeSchema, loadConfigOrExit, parseConfig, type ConfigOf, type Env, type Schema } from "./parse-config.js";
export { serviceEnvSchema } from "./service-env.js";
