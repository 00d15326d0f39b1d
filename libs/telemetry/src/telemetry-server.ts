import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import type { Registry } from "prom-client";
import type { Logger } from "pino";
import { listenConflictHint, listeningPort } from "@timenet/net-address";

export class TelemetryError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "TelemetryError";
  }
}

export interface ReadinessCheck {
  name: string;
  check: () => boolean | Promise<boolean>;
  /** Why the check fails, shown under `reasons` in /readyz (optional). */
  reason?: () => string | undefined;
}

export interface TelemetryServerOptions {
  /** Default "127.0.0.1": metrics are not for the internet. */
  host?: string;
  /** 0 = ephemeral. */
  port: number;
  registry: Registry;
  logger?: Logger;
  readiness?: ReadinessCheck[];
  /**
   * HTTPS with this cert (PEM bytes of a TLS directory). /metrics then needs a
   * client cert signed by `tls.ca` (403 without: Prometheus scrapes with
   * tls_config), /healthz and /readyz do not (Docker healthchecks). Default
   * none: plain HTTP, for loopback only.
   */
  tls?: { ca: Buffer; cert: Buffer; key: Buffer };
}

/**
 * Whether the request came with a client cert that the operator CA verified.
 * `authorized` alone is not enough: a TLS session first made WITHOUT a cert
 * (a /healthz probe) and then resumed reports authorized (OpenSSL keeps
 * "verify OK" when nothing was verified), so a peer cert must be there too.
 */
function verifiedClient(req: IncomingMessage): boolean {
  const socket = req.socket as TLSSocket;
  return socket.authorized === true && Object.keys(socket.getPeerCertificate()).length > 0;
}

export interface TelemetryServer {
  readonly port: number;
  readonly host: string;
  addReadinessCheck(check: ReadinessCheck): void;
  stop(): Promise<void>;
}

/** GET /metrics (Prometheus text), /healthz (alive), /readyz (every readiness check passes). */
export async function startTelemetryServer(opts: TelemetryServerOptions): Promise<TelemetryServer> {
  const host = opts.host ?? "127.0.0.1";
  const checks = [...(opts.readiness ?? [])];
  const handler: RequestListener = (req, res) => {
    void (async () => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET" }).end();
        return;
      }
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/metrics") {
        if (opts.tls && !verifiedClient(req)) {
          res.writeHead(403, { "content-type": "text/plain" }).end("a client certificate signed by the operator CA is required\n");
          return;
        }
        const body = await opts.registry.metrics();
        res.writeHead(200, { "content-type": opts.registry.contentType }).end(body);
      } else if (path === "/healthz") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "ok" }));
      } else if (path === "/readyz") {
        const results: Record<string, boolean> = {};
        const reasons: Record<string, string> = {};
        for (const c of checks) {
          try {
            results[c.name] = (await c.check()) === true;
          } catch {
            results[c.name] = false;
          }
          const why = results[c.name] ? undefined : c.reason?.();
          if (why) reasons[c.name] = why;
        }
        const ready = Object.values(results).every(Boolean);
        const body = Object.keys(reasons).length > 0 ? { checks: results, reasons } : { checks: results };
        res
          .writeHead(ready ? 200 : 503, { "content-type": "application/json" })
          .end(JSON.stringify({ status: ready ? "ready" : "not_ready", ...body }));
      } else {
        res.writeHead(404).end();
      }
    })().catch((err: unknown) => {
      opts.logger?.error({ err }, "telemetry request failed");
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
  // requestCert without rejectUnauthorized: the handshake asks for a cert but lets probes without one through to /healthz.
  const server: Server = opts.tls
    ? createHttpsServer({ ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key, requestCert: true, rejectUnauthorized: false }, handler)
    : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new TelemetryError("ERR_TELEMETRY_LISTEN", `cannot listen on ${host}:${opts.port}: ${err.message}${listenConflictHint(err, opts.port)}`)));
    server.listen(opts.port, host, () => resolve());
  });
  const port = listeningPort(server);
  let stopped: Promise<void> | undefined;
  return {
    port,
    host,
    addReadinessCheck: (c) => checks.push(c),
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
