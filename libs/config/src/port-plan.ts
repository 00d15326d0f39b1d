/**
 * The port plan: the same ports on every host (../shared/design/ARCHITECTURE.md).
 * Every default port in the services, the CLI and the devnet comes from here.
 */
export const PORT_PLAN = {
  /** The only public port. */
  p2p: 24100,
  nats: 4222,
  natsMonitoring: 8222,
  prometheus: 9090,
  grafana: 3000,
  services: {
    "p2p-gateway": { grpc: 50051, metrics: 9101 },
    "peer-registry": { grpc: 50052, metrics: 9102 },
    "chain-sync": { grpc: 50053, metrics: 9103 },
    "block-store": { grpc: 50054, metrics: 9104 },
    "block-producer": { grpc: 50055, metrics: 9105 },
  },
} as const;

export type ServiceName = keyof typeof PORT_PLAN.services;

/** Where a service's gRPC API listens on a host: `127.0.0.1:50054` by default. */
export function grpcAddress(service: ServiceName, host = "127.0.0.1"): string {
  return `${host}:${PORT_PLAN.services[service].grpc}`;
}
