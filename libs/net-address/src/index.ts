export { AddressError, compareIp, ipToBytes, isValidIp, normalizeIp, type PeerIp } from "./ip.js";
export { formatEndpoint, parseEndpoint, type PeerEndpoint } from "./endpoint.js";
export { isPublicIp, subnetKey } from "./subnet.js";
export { isPrivateIp } from "./private.js";
export {
  ephemeralPortState,
  formatPorts,
  LINUX_PORT_FILES,
  localPortHolders,
  type LocalPortHolders,
  listenConflictHint,
  parsePortRanges,
  reserveCommand,
  reserveEphemeralPorts,
  type EphemeralPortState,
  type PortRange,
  type PortFiles,
  type ReserveOutcome,
} from "./ephemeral-ports.js";
export { listeningPort, type ListeningServer } from "./listening-port.js";
