import type { Logger } from "@timenet/telemetry";
import type { GatewayMetrics } from "./metrics.js";

/**
 * What the gateway does with an exception thrown by one of its event
 * listeners (TypedEvents hands it here instead of throwing it into the
 * socket read that emitted the event): count it and log it. It is a bug on
 * our side, so nothing is done to the peer.
 */
export function reportListenerError(metrics: GatewayMetrics, log: Logger, event: string, err: unknown, peerIp?: string): void {
  metrics.listenerErrors.inc({ event });
  log.error({ err, event, ...(peerIp === undefined ? {} : { peer_ip: peerIp }) }, "an event listener threw; the other listeners still ran");
}
