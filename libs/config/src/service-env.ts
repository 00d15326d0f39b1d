import { hostname } from "node:os";
import { PORT_PLAN, type ServiceName } from "./port-plan.js";
import { bool, int, oneOf, optional, str } from "./spec.js";

/**
 * The variables every timenet service reads the same way: its name, the
 * node's NATS, where its gRPC API and its metrics/health listen (the port
 * plan's ports), and logging. Each service spreads this into its own schema.
 */
export function serviceEnvSchema(o: { service: ServiceName; grpcServices: string }) {
  const ports = PORT_PLAN.services[o.service];
  return {
    NODE_NAME: str({ description: "Name of this node in logs", default: hostname() }),
    NATS_URL: str({ description: "The node's NATS server", default: `nats://127.0.0.1:${PORT_PLAN.nats}` }),
    NATS_USER: optional(str({ description: "This service's NATS user (its name, e.g. p2p-gateway: deploy/nats/users.conf); required when NATS_URL is beyond loopback" })),
    NATS_PASS: optional(str({ description: "This service's NATS password: 16+ letters, digits, _ or -, a letter first, never CHANGE-ME (else exit 2)" })),
    GRPC_HOST: str({ description: "gRPC bind address", default: "127.0.0.1" }),
    GRPC_PORT: int({ description: `gRPC port (${o.grpcServices}, health, reflection)`, default: ports.grpc, min: 0, max: 65535 }),
    METRICS_HOST: str({ description: "/metrics /healthz /readyz bind address", default: "127.0.0.1" }),
    METRICS_PORT: int({ description: "Metrics and health port", default: ports.metrics, min: 0, max: 65535 }),
    OPERATOR_TLS_DIR: optional(
      str({
        description:
          "Operator TLS directory with ca.crt, tls.crt, tls.key (`timenetctl operator-cert create`): gRPC then requires a client cert of the operator CA, metrics are HTTPS (/metrics needs the client cert). Required when GRPC_HOST or METRICS_HOST is beyond loopback",
      }),
    ),
    LOG_LEVEL: oneOf(["trace", "debug", "info", "warn", "error", "fatal"] as const, { description: "pino level", default: "info" }),
    LOG_PRETTY: optional(bool({ description: "Human-readable logs (default: when stdout is a terminal)" })),
  };
}
