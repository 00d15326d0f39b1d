import { createGrpcClient, type ServiceClient } from "@timenet/grpc";
import { PeerRegistryService } from "@timenet/proto";
import { grpcFailure } from "./grpc-failure.js";

export type RegistryClient = ServiceClient<typeof PeerRegistryService>;

/**
 * Runs `use` with a client of the peer-registry at `target` and closes it
 * afterwards (an open channel would keep the process alive). gRPC failures
 * come out as one-line CliErrors.
 */
export async function withRegistry<T>(target: string, timeoutMs: number, use: (registry: RegistryClient) => Promise<T>): Promise<T> {
  const registry = createGrpcClient(PeerRegistryService, target);
  try {
    return await use(registry);
  } catch (err) {
    throw grpcFailure(err, target, timeoutMs);
  } finally {
    registry.close();
  }
}
