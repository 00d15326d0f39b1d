import { readFileSync, writeFileSync } from "node:fs";

/**
 * The ports Linux hands to outbound connections that bind no port themselves
 * (`net.ipv4.ip_local_port_range`, 32768-60999 by default), and the ports an
 * operator keeps out of that range (`net.ipv4.ip_local_reserved_ports`).
 *
 * Why it matters here: the port plan's gRPC ports (50051-50055) lie inside the
 * default range. An outbound connection (to NATS, to another service) that
 * the kernel happens to give local port 50052 on the same address makes the
 * registry's later listen on 50052 fail with EADDRINUSE. Reserving the ports
 * removes that chance; it does not stop anyone from listening on them.
 */
export interface PortFiles {
  /** "low<TAB>high". */
  range: string;
  /** A comma-separated list of ports and "low-high" ranges; empty when none. */
  reserved: string;
  /** The kernel's TCP socket tables (/proc/net/tcp, tcp6): who holds a port. */
  tcp?: readonly string[];
}

/** Linux's files for the current network namespace (Docker gives each container its own). */
export const LINUX_PORT_FILES: PortFiles = {
  range: "/proc/sys/net/ipv4/ip_local_port_range",
  reserved: "/proc/sys/net/ipv4/ip_local_reserved_ports",
  tcp: ["/proc/net/tcp", "/proc/net/tcp6"],
};

export type PortRange = readonly [low: number, high: number];

/** "1000,2000-2005" → [[1000,1000],[2000,2005]]; blanks and whitespace ignored. */
export function parsePortRanges(text: string): PortRange[] {
  const out: PortRange[] = [];
  for (const part of text.split(",")) {
    const t = part.trim();
    if (t === "") continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(t);
    if (m === null) throw new Error(`not a port or port range: "${t}"`);
    out.push([Number(m[1]), Number(m[2] ?? m[1])]);
  }
  return out;
}

const formatRange = ([lo, hi]: PortRange) => (lo === hi ? String(lo) : `${lo}-${hi}`);

/** Ports as the kernel writes them: sorted, runs joined ("50051-50055,50057"). */
export function formatPorts(ports: Iterable<number>): string {
  const runs: Array<[number, number]> = [];
  for (const p of [...new Set(ports)].sort((a, b) => a - b)) {
    const last = runs.at(-1);
    if (last !== undefined && p === last[1] + 1) last[1] = p;
    else runs.push([p, p]);
  }
  return runs.map(formatRange).join(",");
}

const inRanges = (port: number, ranges: readonly PortRange[]) => ranges.some(([lo, hi]) => port >= lo && port <= hi);

export interface EphemeralPortState {
  /** The kernel's ephemeral range. */
  range: PortRange;
  /** What is reserved today. */
  reserved: PortRange[];
  /** The asked ports the kernel may hand to an outbound connection: in the range, not reserved. */
  exposed: number[];
  /** The value of `net.ipv4.ip_local_reserved_ports` that keeps today's reservations and adds `exposed`. */
  wanted: string;
}

/** Which of `ports` an outbound connection could take; undefined where the files do not exist (not Linux). */
export function ephemeralPortState(ports: Iterable<number>, files: PortFiles = LINUX_PORT_FILES): EphemeralPortState | undefined {
  let range: PortRange;
  let reserved: PortRange[];
  try {
    const [low, high] = readFileSync(files.range, "utf8").trim().split(/\s+/).map(Number);
    if (low === undefined || high === undefined || !Number.isInteger(low) || !Number.isInteger(high)) return undefined;
    range = [low, high];
    reserved = parsePortRanges(readFileSync(files.reserved, "utf8"));
  } catch {
    return undefined; // not Linux, or not the kernel's format
  }
  const exposed = [...new Set(ports)].filter((p) => inRanges(p, [range]) && !inRanges(p, reserved)).sort((a, b) => a - b);
  const wanted = [...reserved.map(formatRange), ...(exposed.length > 0 ? [formatPorts(exposed)] : [])].join(",");
  return { range, reserved, exposed, wanted };
}

/** The one command that reserves them, for an operator to run. */
export const reserveCommand = (state: EphemeralPortState) => `sysctl -w net.ipv4.ip_local_reserved_ports=${state.wanted}`;

export type ReserveOutcome =
  | { kind: "unsupported" }
  | { kind: "already"; state: EphemeralPortState }
  | { kind: "reserved"; state: EphemeralPortState }
  /** Not root, or /proc/sys read-only (a container): `reason` says which; `reserveCommand(state)` is the fix. */
  | { kind: "refused"; state: EphemeralPortState; reason: string };

/** Adds the exposed ones of `ports` to the reserved list (needs root and a writable /proc/sys). Never throws. */
export function reserveEphemeralPorts(ports: Iterable<number>, files: PortFiles = LINUX_PORT_FILES): ReserveOutcome {
  const state = ephemeralPortState(ports, files);
  if (state === undefined) return { kind: "unsupported" };
  if (state.exposed.length === 0) return { kind: "already", state };
  try {
    writeFileSync(files.reserved, state.wanted);
  } catch (err) {
    return { kind: "refused", state, reason: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  return { kind: "reserved", state };
}

/** TCP state "0A" in /proc/net/tcp: a listening socket. */
const TCP_LISTEN = "0A";

export interface LocalPortHolders {
  /** A socket listens on the port (its accepted connections share the port). */
  listening: boolean;
  /** The remote ends of the other sockets whose local port it is ("127.0.0.1:4222"; "[v6]:4222" for IPv6). */
  connections: string[];
}

/** Who holds `port` locally, from the kernel's socket tables; undefined when none can be read. */
export function localPortHolders(port: number, tables: readonly string[]): LocalPortHolders | undefined {
  const out: LocalPortHolders = { listening: false, connections: [] };
  let read = 0;
  for (const table of tables) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    read++;
    for (const line of text.split("\n").slice(1)) {
      const [, local, remote, state] = line.trim().split(/\s+/);
      if (local === undefined || remote === undefined || parseInt(local.split(":")[1] ?? "", 16) !== port) continue;
      if (state === TCP_LISTEN) {
        out.listening = true;
        continue;
      }
      const [addr = "", rport = ""] = remote.split(":");
      // IPv4 addresses are written as one little-endian 32-bit word.
      const ip = addr.length === 8 ? [6, 4, 2, 0].map((i) => parseInt(addr.slice(i, i + 2), 16)).join(".") : "[v6]";
      out.connections.push(`${ip}:${parseInt(rport, 16)}`);
    }
  }
  return read === 0 ? undefined : out;
}

/**
 * The end of a listen error's line when the cause is (or may be) an outbound
 * connection holding the port: EADDRINUSE on a port inside the ephemeral range
 * that is not reserved, and no listener on it but a connection. Otherwise "" (another
 * process listens there: the error says so already).
 */
export function listenConflictHint(err: unknown, port: number, files: PortFiles = LINUX_PORT_FILES): string {
  const text = err instanceof Error ? `${(err as NodeJS.ErrnoException).code ?? ""} ${err.message}` : String(err);
  if (port === 0 || !text.includes("EADDRINUSE")) return "";
  const state = ephemeralPortState([port], files);
  if (state === undefined || state.exposed.length === 0) return "";
  const held = files.tcp === undefined ? undefined : localPortHolders(port, files.tcp);
  if (held !== undefined && (held.listening || held.connections.length === 0)) return "";
  const who = held === undefined ? "an outbound connection may hold it" : `an outbound connection holds it (to ${held.connections.slice(0, 3).join(", ")})`;
  return ` (port ${port} lies in this host's ephemeral range ${state.range[0]}-${state.range[1]}: ${who}; keep it for listening with  ${reserveCommand(state)})`;
}
