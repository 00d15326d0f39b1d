import { PORT_PLAN, type ServiceName } from "@timenet/config";
import type { OperatorTls } from "@timenet/operator-tls";
import type { Logger } from "@timenet/telemetry";
import { operatorTlsFor } from "./operator-plane.js";

/** What every service's options have in common: its name, NATS, and where it listens. */
export interface ServiceEndpointOptions {
  /** Name in every log line (`node`). */
  node?: string;
  natsUrl: string;
  natsUser?: string;
  natsPass?: string;
  /** Default 127.0.0.1. */
  grpcHost?: string;
  /** The service's port in the port plan; 0 = ephemeral (tests). */
  grpcPort?: number;
  /** Default 127.0.0.1. */
  metricsHost?: string;
  metricsPort?: number;
  /**
   * OPERATOR_TLS_DIR: ca.crt, tls.crt, tls.key. gRPC and metrics then serve
   * mutual TLS, and the service's own gRPC clients present this cert. Default
   * none: then both hosts must be loopback, or the start is refused.
   */
  tlsDir?: string;
  logger?: Logger;
  /** Default "info". */
  logLevel?: string;
}

export interface ResolvedServiceEndpoints {
  node: string;
  natsUrl: string;
  natsUser: string | undefined;
  natsPass: string | undefined;
  grpcHost: string;
  grpcPort: number;
  metricsHost: string;
  metricsPort: number;
  /** The loaded, validated TLS directory, if any. */
  tls: OperatorTls | undefined;
  logger: Logger | undefined;
  logLevel: string;
}

/**
 * The endpoints with the port plan's ports for `service`, named `node` unless
 * the caller names it. Throws a ConfigError when a listener is beyond loopback
 * without a TLS directory, or the TLS directory is not valid.
 */
export function resolveServiceEndpoints(o: ServiceEndpointOptions, defaults: { node: string; service: ServiceName }): ResolvedServiceEndpoints {
  const ports = PORT_PLAN.services[defaults.service];
  const grpcHost = o.grpcHost ?? "127.0.0.1";
  const metricsHost = o.metricsHost ?? "127.0.0.1";
  return {
    node: o.node ?? defaults.node,
    natsUrl: o.natsUrl,
    natsUser: o.natsUser,
    natsPass: o.natsPass,
    grpcHost,
    grpcPort: o.grpcPort ?? ports.grpc,
    metricsHost,
    metricsPort: o.metricsPort ?? ports.metrics,
    tls: operatorTlsFor({ grpcHost, metricsHost, tlsDir: o.tlsDir }),
    logger: o.logger,
    logLevel: o.logLevel ?? "info",
  };
}

/** The common variables (serviceEnvSchema in @timenet/config) as options. */
export function endpointsFromEnv(
  env: { NODE_NAME: string; NATS_URL: string; NATS_USER?: string | undefined; NATS_PASS?: string | undefined; GRPC_HOST: string; GRPC_PORT: number; METRICS_HOST: string; METRICS_PORT: number; OPERATOR_TLS_DIR?: string | undefined },
  logger: Logger,
): ServiceEndpointOptions {
  return {
    node: env.NODE_NAME,
    natsUrl: env.NATS_URL,
    natsUser: env.NATS_USER,
    natsPass: env.NATS_PASS,
    grpcHost: env.GRPC_HOST,
    grpcPort: env.GRPC_PORT,
    metricsHost: env.METRICS_HOST,
    metricsPort: env.METRICS_PORT,
    tlsDir: env.OPERATOR_TLS_DIR,
    logger,
  };
}
