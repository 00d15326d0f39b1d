import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/**
 * What a failed JetStream API call says NATS no longer has: the stream, the
 * consumer, or neither (any other failure, NATS away included). A NATS that
 * started again without its store, or an operator's delete, answers so; each
 * owner then declares what it owns again.
 */
export function jetStreamLoss(err: unknown): "stream" | "consumer" | undefined {
  if (!(err instanceof JetStreamApiError)) return undefined;
  if (err.code === JetStreamApiCodes.StreamNotFound) return "stream";
  if (err.code === JetStreamApiCodes.ConsumerNotFound) return "consumer";
  return undefined;
}
