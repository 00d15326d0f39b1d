import { checkIsCa, checkKeyMatches, checkSignedBy, checkValidity } from "./cert-checks.js";
import { parseCert, parseKey, readPem } from "./pem-file.js";
import { tlsPaths } from "./tls-files.js";

/** A loaded, validated TLS directory: PEM bytes as grpc-js and node:tls take them. */
export interface OperatorTls {
  readonly dir: string;
  /** The operator CA: peers must present a cert it signed. */
  readonly ca: Buffer;
  /** This side's certificate (server and client auth). */
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * Reads `dir`'s ca.crt, tls.crt and tls.key and checks them: each exists and
 * parses, ca.crt is a CA, tls.crt is signed by it, tls.key is its key, and
 * both are valid at `now`. Throws an OperatorTlsError naming the file.
 */
export function loadTlsDir(dir: string, now: Date = new Date()): OperatorTls {
  const paths = tlsPaths(dir);
  const ca = readPem(paths.ca);
  const cert = readPem(paths.cert);
  const key = readPem(paths.key);
  const caCert = parseCert(paths.ca, ca);
  const tlsCert = parseCert(paths.cert, cert);
  checkIsCa(paths.ca, caCert);
  checkValidity(paths.ca, caCert, now);
  checkSignedBy(paths.cert, tlsCert, paths.ca, caCert);
  checkKeyMatches(paths.cert, tlsCert, paths.key, parseKey(paths.key, key));
  checkValidity(paths.cert, tlsCert, now);
  return { dir, ca, cert, key };
}
