export { CleanupStack } from "./cleanup-stack.js";
export { runMain, STOP_DEADLINE_MS, type RunMainOptions, type Stoppable } from "./run-main.js";
export { endpointsFromEnv, resolveServiceEndpoints, type ResolvedServiceEndpoints, type ServiceEndpointOptions } from "./service-endpoints.js";
export { ServiceFrame } from "./service-frame.js";
export { withDefaults } from "./with-defaults.js";
