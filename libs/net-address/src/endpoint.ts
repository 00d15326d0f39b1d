import { AddressError, normalizeIp, type PeerIp } from "./ip.js";

/** Where to reach a peer: its identity (ip) and the port it listens on. */
export interface PeerEndpoint {
  ip: PeerIp;
  port: number;
}

/** Parses `1.2.3.4:24100`, `[::1]:24100`, or a bare IP with `defaultPort`. */
export function parseEndpoint(raw: string, defaultPort?: number): PeerEndpoint {
  const s = raw.trim();
  let host: string;
  let portText: string | undefined;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) throw new AddressError(`unclosed "[" in "${raw}"`);
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) throw new AddressError(`expected ":port" after "]" in "${raw}"`);
    portText = rest === "" ? undefined : rest.slice(1);
  } else if (s.split(":").length === 2) {
    [host, portText] = s.split(":") as [string, string];
  } else {
    host = s; // bare IPv4, or bare IPv6 without brackets
  }
  const ip = normalizeIp(host);
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText)) throw new AddressError(`bad port "${portText}" in "${raw}"`);
    port = Number(portText);
  }
  if (port === undefined) throw new AddressError(`missing port in "${raw}"`);
  if (port < 1 || port > 65535) throw new AddressError(`port out of range in "${raw}"`);
  return { ip, port };
}

export function formatEndpoint(e: { ip: string; port: number }): string {
  return e.ip.includes(":") ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}
