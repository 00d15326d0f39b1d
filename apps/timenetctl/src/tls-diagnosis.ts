import { isIP } from "node:net";
import { connect, type ConnectionOptions } from "node:tls";
import type { MutualTls } from "@timenet/grpc";

/** Where to give timenetctl the operator's credentials (one place for every hint). */
export const TLS_SOURCES = "--tls-dir DIR, TIMENET_TLS_DIR or tlsDir in the config file (deploy/README.md \"Operator TLS\")";

function hostPort(target: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(target) ?? /^([^:]+):(\d+)$/.exec(target);
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

type Outcome = { kind: "error"; err: NodeJS.ErrnoException } | { kind: "handshake-error"; err: NodeJS.ErrnoException } | { kind: "data" } | { kind: "silent" };

/** One TLS connection as grpc-js would make it (ALPN h2): how it ended. The server's first bytes (HTTP/2 SETTINGS) mean it accepted us. */
function attempt(o: ConnectionOptions, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    let secure = false;
    const sock = connect({ ...o, ALPNProtocols: ["h2"] });
    const done = (r: Outcome) => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () => done({ kind: "silent" }));
    sock.once("secureConnect", () => (secure = true));
    sock.once("data", () => done({ kind: "data" }));
    sock.once("error", (err: NodeJS.ErrnoException) => done(secure ? { kind: "handshake-error", err } : { kind: "error", err }));
    sock.once("close", () => done({ kind: "silent" }));
  });
}

const isTlsAlert = (err: NodeJS.ErrnoException) => /alert|SSL|TLS/i.test(`${err.code ?? ""} ${err.message}`) && !/wrong version number|packet length too long/i.test(err.message);

/**
 * Why a connection that gRPC could not establish failed at the TLS layer, as
 * the end of one line, or undefined when TLS is not the reason (node down,
 * plaintext both sides). Asks the service once more with node:tls, whose
 * errors say what grpc-js's "Failed to connect" does not.
 */
export async function diagnoseTls(target: string, tls: MutualTls | undefined, timeoutMs: number): Promise<string | undefined> {
  const hp = hostPort(target);
  if (!hp) return undefined;
  const servername = isIP(hp.host) ? undefined : hp.host;
  if (!tls) {
    const r = await attempt({ ...hp, servername, rejectUnauthorized: false }, timeoutMs);
    const speaksTls = r.kind === "data" || r.kind === "handshake-error" || (r.kind === "error" && isTlsAlert(r.err));
    return speaksTls ? `it requires mutual TLS and timenetctl has no client certificate: give ${TLS_SOURCES}` : undefined;
  }
  const r = await attempt({ ...hp, servername, ca: tls.ca, cert: tls.cert, key: tls.key }, timeoutMs);
  if (r.kind === "handshake-error" || (r.kind === "error" && /alert/i.test(r.err.message))) {
    return `TLS handshake failed: it refused our client certificate (${r.err.message.replace(/^.*alert /i, "alert ").split(":")[0]}): is it signed by the node's operator CA?`;
  }
  if (r.kind !== "error") return undefined;
  const e = r.err;
  if (e.code === "ERR_TLS_CERT_ALTNAME_INVALID") return `TLS handshake failed: its certificate does not name ${hp.host} (reissue it with --ip/--dns)`;
  if (/CERT|SIGNATURE|ISSUER|SELF_SIGNED/.test(e.code ?? "")) return `TLS handshake failed: its certificate is not signed by our operator CA (${e.message})`;
  if (/wrong version number|packet length too long/i.test(e.message)) return "TLS handshake failed: it does not speak TLS (is its OPERATOR_TLS_DIR set?)";
  return undefined;
}
