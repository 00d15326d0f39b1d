import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import type { Logger } from "pino";

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
}

export interface TelemetryServerOptions {
  /** Default "127.0.0.1": metrics are not for the internet. */
  host?: string;
  /** 0 = ephemeral. */
  port: number;
  registry: Registry;
  logger?: Logger;
  readiness?: ReadinessCheck[];
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
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET" }).end();
        return;
      }
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/metrics") {
        const body = await opts.registry.metrics();
        res.writeHead(200, { "content-type": opts.registry.contentType }).end(body);
      } else if (path === "/healthz") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "ok" }));
      } else if (path === "/readyz") {
        const results: Record<string, boolean> = {};
        for (const c of checks) {
          try {
            results[c.name] = (await c.check()) === true;
          } catch {
            results[c.name] = false;
          }
        }
        const ready = Object.values(results).every(Boolean);
        res
          .writeHead(ready ? 200 : 503, { "content-type": "application/json" })
          .end(JSON.stringify({ status: ready ? "ready" : "not_ready", checks: results }));
      } else {
        res.writeHead(404).end();
      }
    })().catch((err: unknown) => {
      opts.logger?.error({ err }, "telemetry request failed");
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new TelemetryError("ERR_TELEMETRY_LISTEN", `cannot listen on ${host}:${opts.port}: ${err.message}`)));
    server.listen(opts.port, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : opts.port;
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
