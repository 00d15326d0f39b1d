export { startGateway, type Gateway } from "./gateway.js";
export { resolveGatewayOptions, DEFAULT_RATE_LIMITS, GATEWAY_DEFAULTS, type RateLimits, type GatewayOptions, type ResolvedGatewayOptions } from "./options.js";
export { gatewayEnvSchema, parseGatewayEnv, type GatewayEnv } from "./config.js";
export { PeerConnection, PeerRequestError, directionLabel, type CloseInfo, type ConnectionState } from "./peer-connection.js";
export { ConnectionManager, DialError } from "./connection-manager.js";
export { resolveDuplicate, dialedByHigherIp, linkAddresses, type DuplicateRule } from "./duplicate-resolution.js";
export { AdmissionControl } from "./admission.js";
export { PeerRateLimits } from "./peer-rate-limits.js";
export { buildHello, canonicalHelloBytes, checkHello, PROTOCOL_VERSION, type LocalIdentity } from "./hello.js";
