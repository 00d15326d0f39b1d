import { mkdirSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { loadOperatorCa, type PemPair } from "./operator-ca.js";
import { refuseExisting, writeNew } from "./pem-file.js";
import { tlsPaths } from "./tls-files.js";
import { ALGORITHM, DAY_MS, generateKeys, importPrivateKey, privateKeyPem, serialNumber, x509 } from "./x509.js";

export interface OperatorCertOptions {
  /** Common name: the host's or operator's name. */
  name: string;
  /** Extra DNS names (e.g. the Compose service names). */
  dns?: readonly string[];
  /** Extra IP addresses (e.g. the host's private/VPN address). */
  ips?: readonly string[];
  /** Validity in days. Default 825. */
  days?: number;
  /** Default now. */
  now?: Date;
}

/** Every certificate answers for the local host: services dial each other and timenetctl dials them on loopback. */
const ALWAYS_DNS = ["localhost"];
const ALWAYS_IPS = ["127.0.0.1"];

const unique = (xs: readonly string[]) => [...new Set(xs)];

/**
 * A certificate signed by the CA for `name`, good for TLS server AND client
 * auth (one cert per host serves its services and dials the others; an
 * operator's cert is a client cert that could serve too). SANs: localhost,
 * 127.0.0.1, `name` (as DNS, or IP when it is one), and `dns`/`ips`.
 */
export async function issueOperatorCert(ca: PemPair, o: OperatorCertOptions): Promise<PemPair> {
  const now = o.now ?? new Date();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importPrivateKey(ca.keyPem);
  const keys = await generateKeys();
  for (const ip of o.ips ?? []) if (isIP(ip) === 0) throw new Error(`--ip ${ip} is not an IP address`);
  const dns = unique([...ALWAYS_DNS, ...(isIP(o.name) ? [] : [o.name]), ...(o.dns ?? [])]);
  const ips = unique([...ALWAYS_IPS, ...(isIP(o.name) ? [o.name] : []), ...(o.ips ?? [])]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${o.name}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (o.days ?? 825) * DAY_MS),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([...dns.map((value) => ({ type: "dns" as const, value })), ...ips.map((value) => ({ type: "ip" as const, value }))]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await privateKeyPem(keys.privateKey) };
}

/**
 * Writes a TLS directory `outDir` (ca.crt, tls.crt, tls.key 0600) with a
 * certificate issued by the CA in `caDir`; refuses to overwrite any file.
 */
export async function writeOperatorCert(caDir: string, outDir: string, o: OperatorCertOptions): Promise<{ dir: string; dns: string[]; ips: string[] }> {
  const ca = loadOperatorCa(caDir, o.now);
  const paths = tlsPaths(outDir);
  refuseExisting([paths.ca, paths.cert, paths.key]);
  const issued = await issueOperatorCert(ca, o);
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  writeNew(paths.key, issued.keyPem, 0o600);
  writeNew(paths.cert, issued.certPem, 0o644);
  writeNew(paths.ca, ca.certPem, 0o644);
  const san = new x509.X509Certificate(issued.certPem).getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  return { dir: join(outDir), dns: names.filter((n) => n.type === "dns").map((n) => n.value), ips: names.filter((n) => n.type === "ip").map((n) => n.value) };
}
