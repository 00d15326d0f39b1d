export { NodeKey, NodeKeyError, verifySignature } from "./node-key.js";
