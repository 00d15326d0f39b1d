import type { DescService } from "@bufbuild/protobuf";
import { createGrpcClient, type ServiceClient } from "@timenet/grpc";
import { PeerRegistryService } from "@timenet/proto";
import { grpcFailure, REGISTRY, type ServiceName } from "./grpc-failure.js";

export type RegistryClient = ServiceClient<typeof PeerRegistryService>;

/**
 * Runs `use` with a client of `service` at `target` and closes it afterwards
 * (an open channel would keep the process alive). gRPC failures come out as
 * one-line CliErrors naming `name`.
 */
export async function withService<S extends DescService, T>(
  service: S,
  name: ServiceName,
  target: string,
  timeoutMs: number,
  use: (client: ServiceClient<S>) => Promise<T>,
): Promise<T> {
  const client = createGrpcClient(service, target);
  try {
    return await use(client);
  } catch (err) {
    throw grpcFailure(err, target, timeoutMs, name);
  } finally {
    client.close();
  }
}

/** withService for the peer-registry. */
export function withRegistry<T>(target: string, timeoutMs: number, use: (registry: RegistryClient) => Promise<T>): Promise<T> {
  return withService(PeerRegistryService, REGISTRY, target, timeoutMs, use);
}
