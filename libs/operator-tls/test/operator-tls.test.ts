import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { connect, createServer, type TLSSocket } from "node:tls";
import { X509Certificate } from "node:crypto";
import { loadTlsDir, OperatorTlsError, writeOperatorCa, writeOperatorCert } from "../src/index.js";

const DAY = 86_400_000;
const tmp = () => mkdtempSync(join(tmpdir(), "operator-tls-"));

async function ca(): Promise<string> {
  const dir = tmp();
  await writeOperatorCa(dir);
  return dir;
}

function rejects(fn: () => unknown, code: string, file: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof OperatorTlsError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.file, file);
    assert.ok(err.message.includes(file), err.message);
    return true;
  });
}

test("a CA and a host cert: files, modes, SANs for server and client auth", async () => {
  const caDir = await ca();
  assert.equal(statSync(join(caDir, "ca.key")).mode & 0o777, 0o600);
  const out = join(tmp(), "host-1");
  const r = await writeOperatorCert(caDir, out, { name: "host-1", dns: ["p2p-gateway", "block-store"], ips: ["10.8.0.11"] });
  assert.deepEqual(r.dns, ["localhost", "host-1", "p2p-gateway", "block-store"]);
  assert.deepEqual(r.ips, ["127.0.0.1", "10.8.0.11"]);
  assert.equal(statSync(join(out, "tls.key")).mode & 0o777, 0o600);
  const tls = loadTlsDir(out);
  const cert = new X509Certificate(tls.cert);
  assert.equal(cert.checkIP("10.8.0.11"), "10.8.0.11");
  assert.equal(cert.checkHost("block-store"), "block-store");
  assert.deepEqual(cert.keyUsage?.sort(), ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
  assert.equal(cert.ca, false);
});

test("create refuses to overwrite a CA or a TLS directory", async () => {
  const caDir = await ca();
  await assert.rejects(writeOperatorCa(caDir), (err: unknown) => err instanceof OperatorTlsError && err.code === "ERR_TLS_EXISTS" && err.file === join(caDir, "ca.crt"));
  const out = tmp();
  await writeOperatorCert(caDir, out, { name: "a" });
  const before = loadTlsDir(out).cert.toString();
  await assert.rejects(writeOperatorCert(caDir, out, { name: "b" }), (err: unknown) => err instanceof OperatorTlsError && err.code === "ERR_TLS_EXISTS");
  assert.equal(loadTlsDir(out).cert.toString(), before);
});

test("an expired or not-yet-valid cert is named", async () => {
  const caDir = tmp();
  await writeOperatorCa(caDir, { now: new Date(Date.now() - 5 * DAY) });
  const out = tmp();
  await writeOperatorCert(caDir, out, { name: "old", days: 1, now: new Date(Date.now() - 3 * DAY) });
  rejects(() => loadTlsDir(out), "ERR_TLS_EXPIRED", join(out, "tls.crt"));
  const future = tmp();
  await writeOperatorCert(caDir, future, { name: "future", now: new Date(Date.now() + DAY) });
  rejects(() => loadTlsDir(future), "ERR_TLS_NOT_YET_VALID", join(future, "tls.crt"));
  const fresh = tmp();
  await writeOperatorCert(caDir, fresh, { name: "new", days: 30 });
  assert.ok(loadTlsDir(fresh, new Date(Date.now() + 29 * DAY)));
  rejects(() => loadTlsDir(fresh, new Date(Date.now() + 31 * DAY)), "ERR_TLS_EXPIRED", join(fresh, "tls.crt"));
});

test("a cert from another CA is refused, naming tls.crt", async () => {
  const [a, b] = [await ca(), await ca()];
  const out = tmp();
  await writeOperatorCert(a, out, { name: "x" });
  copyFileSync(join(b, "ca.crt"), join(out, "ca.crt"), 0);
  rejects(() => loadTlsDir(out), "ERR_TLS_NOT_SIGNED", join(out, "tls.crt"));
});

test("a key that is not the cert's is refused, naming tls.key", async () => {
  const caDir = await ca();
  const [one, two] = [tmp(), tmp()];
  await writeOperatorCert(caDir, one, { name: "one" });
  await writeOperatorCert(caDir, two, { name: "two" });
  copyFileSync(join(two, "tls.key"), join(one, "tls.key"), 0);
  rejects(() => loadTlsDir(one), "ERR_TLS_KEY_MISMATCH", join(one, "tls.key"));
});

test("a missing file or a CA key mismatch is named", async () => {
  const empty = tmp();
  rejects(() => loadTlsDir(empty), "ERR_TLS_MISSING", join(empty, "ca.crt"));
  const [a, b] = [await ca(), await ca()];
  copyFileSync(join(b, "ca.key"), join(a, "ca.key"), 0);
  await assert.rejects(writeOperatorCert(a, tmp(), { name: "x" }), (err: unknown) => err instanceof OperatorTlsError && err.code === "ERR_TLS_KEY_MISMATCH" && err.file === join(a, "ca.key"));
});

test("the certs work for mutual TLS with OpenSSL; a client of another CA is refused", async () => {
  const caDir = await ca();
  const [srvDir, cliDir, otherDir] = [tmp(), tmp(), tmp()];
  await writeOperatorCert(caDir, srvDir, { name: "srv", ips: ["127.0.3.9"] });
  await writeOperatorCert(caDir, cliDir, { name: "alice" });
  await writeOperatorCert(await ca(), otherDir, { name: "mallory" });
  const s = loadTlsDir(srvDir);
  const server = createServer({ ca: s.ca, cert: s.cert, key: s.key, requestCert: true, rejectUnauthorized: true }, (sock) => sock.end(`hi ${sock.getPeerCertificate().subject.CN}`));
  server.listen(0, "127.0.3.9");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  const dial = async (dir: string): Promise<string> => {
    const c = loadTlsDir(dir);
    const sock: TLSSocket = connect({ host: "127.0.3.9", port, ca: s.ca, cert: c.cert, key: c.key });
    let text = "";
    sock.setEncoding("utf8").on("data", (d: string) => (text += d));
    await new Promise<void>((resolve, reject) => sock.once("end", resolve).once("error", reject).once("close", () => resolve()));
    return text;
  };
  try {
    assert.equal(await dial(cliDir), "hi alice");
    const refused = once(server, "tlsClientError");
    const answer = await dial(otherDir).catch((err: Error) => err.message);
    assert.doesNotMatch(answer, /^hi/);
    // The server saw a failed handshake (its message varies with the TLS version's alert order).
    const [err] = (await refused) as [Error];
    assert.ok(err instanceof Error);
  } finally {
    server.close();
  }
});
