import { status } from "@grpc/grpc-js";
import { CliError, ExitCode } from "./cli-error.js";

/** The statuses with which a service refuses a request on its merits; its details say why. */
const REFUSALS = new Set<number>([
  status.NOT_FOUND,
  status.INVALID_ARGUMENT,
  status.FAILED_PRECONDITION,
  status.ALREADY_EXISTS,
  status.OUT_OF_RANGE,
  status.PERMISSION_DENIED,
]);

/** A node service as the operator names it: "peer-registry" and the option that sets its port. */
export interface ServiceName {
  name: string;
  portOption: string;
}

export const REGISTRY: ServiceName = { name: "peer-registry", portOption: "--registry-port" };

function isGrpcError(err: unknown): err is { code: number; details?: string } {
  return typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "number";
}

/** A failed call to `service` at `target`, as the one line the operator sees. */
export function grpcFailure(err: unknown, target: string, timeoutMs: number, service: ServiceName = REGISTRY): unknown {
  if (!isGrpcError(err)) return err;
  const details = err.details?.trim() || status[err.code] || `status ${err.code}`;
  const { name } = service;
  switch (err.code) {
    case status.UNAVAILABLE:
      return new CliError(`cannot reach ${name} at ${target} (is the node running?)`, ExitCode.unreachable);
    case status.DEADLINE_EXCEEDED:
      return new CliError(`cannot reach ${name} at ${target}: no answer within ${timeoutMs} ms (is the node running?)`, ExitCode.unreachable);
    case status.UNIMPLEMENTED:
      return new CliError(`${target} does not serve the ${name} API (wrong ${service.portOption}?)`, ExitCode.unreachable);
  }
  if (REFUSALS.has(err.code)) return new CliError(details, ExitCode.refused);
  return new CliError(`${name} at ${target} failed: ${status[err.code] ?? err.code}: ${details}`, ExitCode.failure);
}
