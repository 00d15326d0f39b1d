import type { KeyObject, X509Certificate } from "node:crypto";
import { OperatorTlsError } from "./operator-tls-error.js";

/** `cert` (from `file`) is within its validity period at `now`. */
export function checkValidity(file: string, cert: X509Certificate, now: Date): void {
  if (now.getTime() > Date.parse(cert.validTo)) throw new OperatorTlsError("ERR_TLS_EXPIRED", file, `${file} expired on ${new Date(cert.validTo).toISOString()}`);
  if (now.getTime() < Date.parse(cert.validFrom)) {
    throw new OperatorTlsError("ERR_TLS_NOT_YET_VALID", file, `${file} is not valid before ${new Date(cert.validFrom).toISOString()}`);
  }
}

/** `cert` (from `file`) carries the public half of `key` (from `keyFile`). */
export function checkKeyMatches(file: string, cert: X509Certificate, keyFile: string, key: KeyObject): void {
  if (!cert.checkPrivateKey(key)) throw new OperatorTlsError("ERR_TLS_KEY_MISMATCH", keyFile, `${keyFile} is not the key of ${file}`);
}

/** `cert` (from `file`) was signed by the CA `ca` (from `caFile`). */
export function checkSignedBy(file: string, cert: X509Certificate, caFile: string, ca: X509Certificate): void {
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    throw new OperatorTlsError("ERR_TLS_NOT_SIGNED", file, `${file} is not signed by the operator CA ${caFile}`);
  }
}

export function checkIsCa(file: string, cert: X509Certificate): void {
  if (!cert.ca) throw new OperatorTlsError("ERR_TLS_NOT_CA", file, `${file} is not a CA certificate`);
}
