import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { checkIsCa, checkKeyMatches, checkValidity } from "./cert-checks.js";
import { parseCert, parseKey, readPem, refuseExisting, writeNew } from "./pem-file.js";
import { CA_KEY_FILE, TLS_FILES } from "./tls-files.js";
import { ALGORITHM, DAY_MS, generateKeys, privateKeyPem, serialNumber, x509 } from "./x509.js";

export interface OperatorCaOptions {
  /** Common name. Default "timenet operator CA". */
  name?: string;
  /** Validity in days. Default 3650: the CA outlives many host certificates. */
  days?: number;
  /** Default now. */
  now?: Date;
}

/** A CA's certificate and private key, PEM. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** A new self-signed operator CA (ECDSA P-256) that may sign leaf certificates only (pathLen 0). */
export async function createOperatorCa(o: OperatorCaOptions = {}): Promise<PemPair> {
  const now = o.now ?? new Date();
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${o.name ?? "timenet operator CA"}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (o.days ?? 3650) * DAY_MS),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await privateKeyPem(keys.privateKey) };
}

/** Writes DIR/ca.crt and DIR/ca.key (0600); refuses to overwrite either. */
export async function writeOperatorCa(dir: string, o: OperatorCaOptions = {}): Promise<{ certFile: string; keyFile: string }> {
  const ca = await createOperatorCa(o);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, TLS_FILES.ca);
  const keyFile = join(dir, CA_KEY_FILE);
  refuseExisting([certFile, keyFile]);
  writeNew(keyFile, ca.keyPem, 0o600);
  writeNew(certFile, ca.certPem, 0o644);
  return { certFile, keyFile };
}

/** Reads DIR/ca.crt and DIR/ca.key and checks that they are a valid CA and its key. */
export function loadOperatorCa(dir: string, now: Date = new Date()): PemPair {
  const certFile = join(dir, TLS_FILES.ca);
  const keyFile = join(dir, CA_KEY_FILE);
  const certPem = readPem(certFile);
  const keyPem = readPem(keyFile);
  const cert = parseCert(certFile, certPem);
  checkIsCa(certFile, cert);
  checkKeyMatches(certFile, cert, keyFile, parseKey(keyFile, keyPem));
  checkValidity(certFile, cert, now);
  return { certPem: certPem.toString(), keyPem: keyPem.toString() };
}
