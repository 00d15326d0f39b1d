import { status } from "@grpc/grpc-js";
import { CliError, ExitCode } from "./cli-error.js";

/** The statuses with which the registry refuses a request on its merits; its details say why. */
const REFUSALS = new Set<number>([
  status.NOT_FOUND,
  status.INVALID_ARGUMENT,
  status.FAILED_PRECONDITION,
  status.ALREADY_EXISTS,
  status.OUT_OF_RANGE,
  status.PERMISSION_DENIED,
]);

function isGrpcError(err: unknown): err is { code: number; details?: string } {
  return typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "number";
}

/** A failed call to the peer-registry at `target`, as the one line the operator sees. */
export function grpcFailure(err: unknown, target: string, timeoutMs: number): unknown {
  if (!isGrpcError(err)) return err;
  const details = err.details?.trim() || status[err.code] || `status ${err.code}`;
  switch (err.code) {
    case status.UNAVAILABLE:
      return new CliError(`cannot reach peer-registry at ${target} (is the node running?)`, ExitCode.unreachable);
    case status.DEADLINE_EXCEEDED:
      return new CliError(`cannot reach peer-registry at ${target}: no answer within ${timeoutMs} ms (is the node running?)`, ExitCode.unreachable);
    case status.UNIMPLEMENTED:
      return new CliError(`${target} does not serve the peer-registry API (wrong --registry-port?)`, ExitCode.unreachable);
  }
  if (REFUSALS.has(err.code)) return new CliError(details, ExitCode.refused);
  return new CliError(`peer-registry at ${target} failed: ${status[err.code] ?? err.code}: ${details}`, ExitCode.failure);
}
