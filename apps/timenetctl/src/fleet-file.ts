import { readFile } from "node:fs/promises";
import { CliError, ExitCode } from "./cli-error.js";
import { isValidIp, normalizeIp } from "@timenet/net-address";
import { parseNode, type NodeAddress } from "./registry-target.js";

/** The fleet file `status --all` reads when --hosts names none (relative to the working directory). */
export const DEFAULT_FLEET_FILE = "deploy/hosts/fleet.json";

/** One host of the fleet file. Ports absent: the --gateway-port / --store-port of the command line. */
export interface FleetHost {
  name: string;
  address: string;
  node: NodeAddress;
  gatewayPort?: number;
  storePort?: number;
  /**
   * The IP its peers see it at, when that is not the address timenetctl
   * reaches it by (operator ports on a VPN or private address).
   */
  p2pIp?: string;
}

type Raw = Record<string, unknown>;

function optionalPort(raw: Raw, key: string, where: string): number | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535) throw new Error(`${where}: "${key}" must be a port, 1-65535`);
  return v;
}

function optionalIp(raw: Raw, key: string, where: string): string | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !isValidIp(v.trim())) throw new Error(`${where}: "${key}" must be an IPv4 or IPv6 address`);
  return normalizeIp(v.trim());
}

function fleetHost(raw: unknown, index: number, file: string): FleetHost {
  const where = `host ${index + 1}`;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(`${where} is not an object`);
  const r = raw as Raw;
  if (typeof r.name !== "string" || r.name.trim() === "") throw new Error(`${where} has no "name"`);
  if (typeof r.address !== "string" || r.address.trim() === "") throw new Error(`${where} (${r.name}) has no "address"`);
  return {
    name: r.name.trim(),
    address: r.address.trim(),
    node: parseNode(r.address, `address of ${r.name} in ${file}`),
    gatewayPort: optionalPort(r, "gateway_port", where),
    storePort: optionalPort(r, "store_port", where),
    p2pIp: optionalIp(r, "p2p_ip", where),
  };
}

/**
 * The hosts of a fleet file: a JSON array of
 * `{"name": "host-1", "address": "203.0.113.11", "gateway_port"?: 50051, "store_port"?: 50054, "p2p_ip"?: "203.0.113.11"}`,
 * names unique. Any problem is a usage error naming the file.
 */
export function parseFleet(text: string, file: string): FleetHost[] {
  try {
    const raw: unknown = JSON.parse(text);
    if (!Array.isArray(raw) || raw.length === 0) throw new Error("expected a non-empty JSON array of hosts");
    const hosts = raw.map((h, i) => fleetHost(h, i, file));
    const dup = hosts.find((h, i) => hosts.findIndex((o) => o.name === h.name) !== i);
    if (dup) throw new Error(`host name "${dup.name}" appears twice`);
    return hosts;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`bad fleet file ${file}: ${(err as Error).message.split("\n")[0]}`, ExitCode.usage);
  }
}

export async function readFleetFile(file: string): Promise<FleetHost[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new CliError(`cannot read fleet file ${file} (${code}); pass --hosts FILE`, ExitCode.usage);
  }
  return parseFleet(text, file);
}
