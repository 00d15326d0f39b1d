export { NodeKey, NodeKeyError, verifySignature } from "./node-key.js";
export { isStrictPoint, isStrictSignature } from "./strict-ed25519.js";
