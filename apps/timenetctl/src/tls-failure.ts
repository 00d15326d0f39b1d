import { status } from "@grpc/grpc-js";
import { CliError, ExitCode } from "./cli-error.js";
import type { Dial } from "./dial.js";
import type { ServiceName } from "./grpc-failure.js";
import { diagnoseTls } from "./tls-diagnosis.js";

/**
 * A call that could not connect (UNAVAILABLE) because of TLS, as one line
 * (exit 4: the service or timenetctl refused the other's certificate); undefined otherwise.
 */
export async function tlsFailure(err: unknown, target: string, dial: Dial, service: ServiceName): Promise<CliError | undefined> {
  if ((err as { code?: unknown } | null)?.code !== status.UNAVAILABLE) return undefined;
  const reason = await diagnoseTls(target, dial.tls, dial.timeoutMs);
  return reason ? new CliError(`${service.name} at ${target}: ${reason}`, ExitCode.refused) : undefined;
}
