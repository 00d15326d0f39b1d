import { resolve } from "node:path";
import { OperatorTlsError, writeOperatorCa, writeOperatorCert } from "@timenet/operator-tls";
import { CliError, ExitCode } from "../cli-error.js";

/** Library errors as the CLI's one line: an existing file or a bad CA is a usage error (exit 2). */
async function asCli<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof OperatorTlsError) throw new CliError(err.message, ExitCode.usage);
    throw new CliError((err as Error).message, ExitCode.failure);
  }
}

/**
 * `timenetctl operator-ca create --out DIR`: a new operator CA (ECDSA P-256):
 * DIR/ca.crt and DIR/ca.key (0600). Never overwrites. Done once per fleet; the
 * CA key stays with the operator, never on a host.
 */
export async function operatorCaCreateCommand(out: string, json: boolean): Promise<string> {
  const dir = resolve(out);
  const r = await asCli(() => writeOperatorCa(dir));
  if (json) return JSON.stringify(r);
  return [
    `created operator CA ${r.certFile} and its key ${r.keyFile} (mode 0600; keep it offline, no service needs it)`,
    `next, per host: timenetctl operator-cert create --ca ${out} --out DIR --name HOST --dns p2p-gateway,peer-registry,chain-sync,block-store,block-producer --ip VPN_IP`,
  ].join("\n");
}

export interface OperatorCertArgs {
  ca: string;
  out: string;
  name: string;
  dns: string[];
  ip: string[];
  days?: number | undefined;
}

/**
 * `timenetctl operator-cert create --ca DIR --out DIR2 --name NAME [--dns a,b] [--ip x,y] [--days N]`:
 * a TLS directory (ca.crt, tls.crt, tls.key 0600) with a cert of the CA for
 * server and client auth. Never overwrites.
 */
export async function operatorCertCreateCommand(a: OperatorCertArgs, json: boolean): Promise<string> {
  const out = resolve(a.out);
  const r = await asCli(() => writeOperatorCert(resolve(a.ca), out, { name: a.name, dns: a.dns, ips: a.ip, days: a.days }));
  if (json) return JSON.stringify(r);
  return [
    `created TLS directory ${out} (ca.crt, tls.crt, tls.key mode 0600) for ${a.name}`,
    `names: ${[...r.dns, ...r.ips].join(", ")}`,
    `a host: OPERATOR_TLS_HOST_DIR=${out} (Compose) or OPERATOR_TLS_DIR=${out}; an operator: timenetctl --tls-dir ${out} (or TIMENET_TLS_DIR, or tlsDir in the config file)`,
  ].join("\n");
}
