import { AddressError, isValidIp, parseEndpoint } from "@timenet/net-address";
import { CliError, ExitCode } from "./cli-error.js";

const HOST_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i;

/** A node as the operator names it: a host (IPv6 bracketed, as grpc-js wants it) and the port it named, if any. */
export interface NodeAddress {
  host: string;
  port: number | undefined;
}

/**
 * Reads `--node` (or a fleet file's address): an IP, `[v6]`, a host name,
 * each optionally with `:port`. `what` names it in the error.
 */
export function parseNode(node: string, what = "--node"): NodeAddress {
  const s = node.trim();
  const [host, portText, ...more] = s.split(":");
  if (more.length === 0 && host !== undefined && HOST_NAME.test(host) && !isValidIp(host)) {
    return { host, port: portText === undefined ? undefined : checkPort(portText, node, what) };
  }
  try {
    const { ip, port } = parseEndpoint(s, 1);
    const named = s.startsWith("[") ? s.includes("]:") : s.split(":").length === 2;
    return { host: ip.includes(":") ? `[${ip}]` : ip, port: named ? port : undefined };
  } catch (err) {
    if (err instanceof AddressError) throw new CliError(`bad ${what} "${node}": expected host, host:port, IP or [IPv6]:port`, ExitCode.usage);
    throw err;
  }
}

/** The gRPC target of a node's service: its own port when the node names one, else `port`. */
export function nodeTarget(node: NodeAddress, port: number): string {
  return `${node.host}:${node.port ?? port}`;
}

/**
 * The gRPC target of the peer-registry from `--node` and `--registry-port`
 * (used when `--node` names no port).
 */
export function registryTarget(node: string, registryPort: number): string {
  return nodeTarget(parseNode(node), registryPort);
}

function checkPort(text: string, node: string, what: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new CliError(`bad port in ${what} "${node}"`, ExitCode.usage);
  return port;
}
