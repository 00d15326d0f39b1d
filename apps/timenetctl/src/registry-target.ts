import { AddressError, formatEndpoint, isValidIp, parseEndpoint } from "@timenet/net-address";
import { CliError, ExitCode } from "./cli-error.js";

const HOST_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i;

/**
 * The gRPC target of the peer-registry from `--node` (an IP, `[v6]`, a host
 * name, each optionally with `:port`) and `--registry-port` (used when
 * `--node` names no port). IPv6 comes out bracketed, as grpc-js wants it.
 */
export function registryTarget(node: string, registryPort: number): string {
  const s = node.trim();
  const [host, portText, ...more] = s.split(":");
  if (more.length === 0 && host !== undefined && HOST_NAME.test(host) && !isValidIp(host)) {
    return `${host}:${portText === undefined ? registryPort : checkPort(portText, node)}`;
  }
  try {
    return formatEndpoint(parseEndpoint(s, registryPort));
  } catch (err) {
    if (err instanceof AddressError) throw new CliError(`bad --node "${node}": expected host, host:port, IP or [IPv6]:port`, ExitCode.usage);
    throw err;
  }
}

function checkPort(text: string, node: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new CliError(`bad port in --node "${node}"`, ExitCode.usage);
  return port;
}
