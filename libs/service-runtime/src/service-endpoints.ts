import { PORT_PLAN, type ServiceName } from "@timenet/config";
import type { Logger } from "@timenet/telemetry";

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
  logger: Logger | undefined;
  logLevel: string;
}

/** The endpoints with the port plan's ports for `service`, named `node` unless the caller names it. */
export function resolveServiceEndpoints(o: ServiceEndpointOptions, defaults: { node: string; service: ServiceName }): ResolvedServiceEndpoints {
  const ports = PORT_PLAN.services[defaults.service];
  return {
    node: o.node ?? defaults.node,
    natsUrl: o.natsUrl,
    natsUser: o.natsUser,
    natsPass: o.natsPass,
    grpcHost: o.grpcHost ?? "127.0.0.1",
    grpcPort: o.grpcPort ?? ports.grpc,
    metricsHost: o.metricsHost ?? "127.0.0.1",
    metricsPort: o.metricsPort ?? ports.metrics,
    logger: o.logger,
    logLevel: o.logLevel ?? "info",
  };
}

/** The common variables (serviceEnvSchema in @timenet/config) as options. */
export function endpointsFromEnv(
  env: { NODE_NAME: string; NATS_URL: string; NATS_USER?: string | undefined; NATS_PASS?: string | undefined; GRPC_HOST: string; GRPC_PORT: number; METRICS_HOST: string; METRICS_PORT: number },
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
    logger,
  };
}
