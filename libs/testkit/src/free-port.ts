import { mkdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Ports handed out come from below Linux's ephemeral range (32768-60999 by
 * default), where the kernel never puts the local end of an outgoing
 * connection: with `listen(0)` a port could be handed to a test and taken by
 * some process's NATS or gRPC client socket before the service bound it
 * (seen once in CI: EADDRINUSE on 127.0.0.1:43039).
 */
const LOW = 20_000;
const HIGH = 32_767;
/**
 * Test processes run in parallel (Nx runs several packages at once): a port
 * is reserved across processes by a file, for as long as a service takes to
 * bind it; after that the listen check below sees it in use.
 */
const RESERVATIONS = join(tmpdir(), "timenet-test-ports");
const RESERVED_FOR_MS = 120_000;
const ATTEMPTS = 200;

function reserve(port: number): boolean {
  const file = join(RESERVATIONS, String(port));
  try {
    writeFileSync(file, String(process.pid), { flag: "wx" });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  try {
    if (Date.now() - statSync(file).mtimeMs < RESERVED_FOR_MS) return false;
    const now = new Date();
    utimesSync(file, now, now); // an expired reservation is taken over
    return true;
  } catch {
    return false;
  }
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A port free on `host` now and reserved for this process for two minutes:
 * picked at random below the ephemeral range, never handed to two test
 * processes at once, checked by listening on it.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  mkdirSync(RESERVATIONS, { recursive: true });
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (reserve(port) && (await canListen(port, host))) return port;
  }
  throw new Error(`no free port in ${LOW}-${HIGH} on ${host} after ${ATTEMPTS} attempts`);
}
