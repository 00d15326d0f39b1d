import type { DescService } from "@bufbuild/protobuf";
import { createGrpcClient, type ServiceClient } from "@timenet/grpc";
import { PeerRegistryService } from "@timenet/proto";
import type { Dial } from "./dial.js";
import { grpcFailure, REGISTRY, type ServiceName } from "./grpc-failure.js";
import { tlsFailure } from "./tls-failure.js";

export type RegistryClient = ServiceClient<typeof PeerRegistryService>;

/**
 * Runs `use` with a client of `service` at `target` and closes it afterwards
 * (an open channel would keep the process alive). gRPC failures come out as
 * one-line CliErrors naming `name` (a TLS failure says what was refused).
 */
export async function withService<S extends DescService, T>(
  service: S,
  name: ServiceName,
  target: string,
  dial: Dial,
  use: (client: ServiceClient<S>) => Promise<T>,
): Promise<T> {
  const client = createGrpcClient(service, target, { tls: dial.tls });
  try {
    return await use(client);
  } catch (err) {
    throw await tlsFailure(err, target, dial, name) ?? grpcFailure(err, target, dial.timeoutMs, name);
  } finally {
    client.close();
  }
}

/** withService for the peer-registry. */
export function withRegistry<T>(target: string, dial: Dial, use: (registry: RegistryClient) => Promise<T>): Promise<T> {
  return withService(PeerRegistryService, REGISTRY, target, dial, use);
}
