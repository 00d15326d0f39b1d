import { PORT_PLAN } from "@timenet/config";
import { AddressError, formatEndpoint, normalizeIp, parseEndpoint } from "@timenet/net-address";
import { CliError, ExitCode } from "./cli-error.js";

/** The P2P port `addnode` assumes when the endpoint names none. */
export const DEFAULT_P2P_PORT = PORT_PLAN.p2p;

// Command-line arguments naming a peer, checked here before any call.

/** A peer's IP, normalised as the registry keys it. */
export function peerIpArgument(raw: string): string {
  try {
    return normalizeIp(raw);
  } catch (err) {
    if (err instanceof AddressError) throw new CliError(`"${raw}" is not an IP address`, ExitCode.usage);
    throw err;
  }
}

/** `ip`, `ip:port`, `[v6]` or `[v6]:port`, as the canonical "ip:port" / "[v6]:port". */
export function peerEndpointArgument(raw: string): string {
  try {
    return formatEndpoint(parseEndpoint(raw, DEFAULT_P2P_PORT));
  } catch (err) {
    if (err instanceof AddressError) {
      throw new CliError(`"${raw}" is not a peer endpoint (${err.message}); expected ip, ip:port or [ipv6]:port`, ExitCode.usage);
    }
    throw err;
  }
}
