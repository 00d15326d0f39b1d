import { join } from "node:path";

/** The files of a TLS directory (what a service or timenetctl needs): the operator CA, its own cert and key. */
export const TLS_FILES = { ca: "ca.crt", cert: "tls.crt", key: "tls.key" } as const;

/** The operator CA's private key, kept apart from every TLS directory (only `operator-cert create` reads it). */
export const CA_KEY_FILE = "ca.key";

export function tlsPaths(dir: string): { ca: string; cert: string; key: string } {
  return { ca: join(dir, TLS_FILES.ca), cert: join(dir, TLS_FILES.cert), key: join(dir, TLS_FILES.key) };
}
