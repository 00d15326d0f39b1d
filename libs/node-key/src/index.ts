export { NodeKey, NodeKeyError, verifySignature } from "./node-key.js";
export { isStrictPoint, isStrictSignature } from "./strict-ed25519.js";
export { CachedVerifier } from "./key-cache.js";
