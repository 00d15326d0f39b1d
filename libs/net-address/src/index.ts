export { AddressError, compareIp, ipToBytes, isValidIp, normalizeIp, type PeerIp } from "./ip.js";
export { formatEndpoint, parseEndpoint, type PeerEndpoint } from "./endpoint.js";
export { isPublicIp, subnetKey } from "./subnet.js";
export { isPrivateIp } from "./private.js";
