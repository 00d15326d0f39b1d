import type { DescService } from "@bufbuild/protobuf";
import type { ServiceClient } from "@timenet/grpc";
import { CliError } from "./cli-error.js";
import type { Dial } from "./dial.js";
import type { ServiceName } from "./grpc-failure.js";
import { withService } from "./registry-client.js";

/** One service's part of a report: its answer, or why there is none (shown as "unreachable"). */
export type Part<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * withService that never throws for a service that cannot answer: its
 * one-line failure becomes the part's error, so the report shows the rest.
 */
export async function probe<S extends DescService, T>(
  service: S,
  name: ServiceName,
  target: string,
  dial: Dial,
  use: (client: ServiceClient<S>, call: { deadlineMs: number }) => Promise<T>,
): Promise<Part<T>> {
  try {
    return { ok: true, value: await withService(service, name, target, dial, (client) => use(client, { deadlineMs: dial.timeoutMs })) };
  } catch (err) {
    if (err instanceof CliError) return { ok: false, error: err.message };
    throw err;
  }
}

/** The part's value, or undefined when it is missing. */
export const valueOf = <T>(part: Part<T>): T | undefined => (part.ok ? part.value : undefined);

/** A part in a JSON report: the answer as `json(value)`, or `{ "unreachable": true, "error": ... }`. */
export function partJson<T>(part: Part<T>, json: (value: T) => unknown): unknown {
  return part.ok ? json(part.value) : { unreachable: true, error: part.error };
}
