import { isIP } from "node:net";

/**
 * Whether binding `host` keeps a listener on this machine: 127.0.0.0/8, ::1
 * (also as ::ffff:127.x) or "localhost". Anything else (0.0.0.0, ::, a LAN or
 * VPN address, a name) is beyond loopback: the operator plane there needs TLS.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(h);
  return false;
}

/**
 * The refusal of a service whose gRPC or metrics listener is bound beyond
 * loopback without OPERATOR_TLS_DIR: its one line, or undefined when it may start.
 */
export function operatorPlaneRefusal(binds: ReadonlyArray<[variable: string, host: string]>, tlsDir: string | undefined): { variable: string; host: string; message: string } | undefined {
  if (tlsDir) return undefined;
  const open = binds.find(([, host]) => !isLoopbackHost(host));
  if (!open) return undefined;
  const [variable, host] = open;
  return { variable, host, message: `${variable}=${host} is beyond loopback: set OPERATOR_TLS_DIR (see deploy/README.md "Operator TLS") or bind 127.0.0.1` };
}
