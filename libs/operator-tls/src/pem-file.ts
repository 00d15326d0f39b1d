import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { OperatorTlsError } from "./operator-tls-error.js";

/** The bytes of `file`, or an OperatorTlsError naming it. */
export function readPem(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `cannot be read: ${(err as Error).message}`;
    throw new OperatorTlsError("ERR_TLS_MISSING", file, `${file} ${reason}`);
  }
}

export function parseCert(file: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new OperatorTlsError("ERR_TLS_BAD_PEM", file, `${file} is not a PEM certificate: ${(err as Error).message}`);
  }
}

export function parseKey(file: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new OperatorTlsError("ERR_TLS_BAD_PEM", file, `${file} is not a PEM private key: ${(err as Error).message}`);
  }
}

/** Writes a new file (never overwrites: `wx`); keys with mode 0600. */
export function writeNew(file: string, text: string, mode: 0o600 | 0o644): void {
  try {
    writeFileSync(file, text, { flag: "wx", mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new OperatorTlsError("ERR_TLS_EXISTS", file, `${file} already exists (refusing to overwrite)`);
    throw err;
  }
}

/** Checks every file before any is written, so a refused command leaves no half-written set. */
export function refuseExisting(files: readonly string[]): void {
  for (const f of files) if (existsSync(f)) throw new OperatorTlsError("ERR_TLS_EXISTS", f, `${f} already exists (refusing to overwrite)`);
}
