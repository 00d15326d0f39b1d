import { DisconnectReason, OffenceKind, Severity } from "@timenet/proto";

/** `DISCONNECT_REASON_PING_TIMEOUT` -> `ping_timeout`: the label, log and metric form. */
export function reasonLabel(reason: DisconnectReason): string {
  return (DisconnectReason[reason] ?? "UNSPECIFIED").toLowerCase();
}

export const ALL_REASON_LABELS: readonly string[] = Object.values(DisconnectReason)
  .filter((v): v is number => typeof v === "number")
  .map((r) => reasonLabel(r));

/**
 * Closes that we decided because the peer misbehaved, graded for the
 * registry. Ours only: a peer telling us it timed us out is not evidence.
 */
const OFFENCES = new Map<DisconnectReason, { kind: OffenceKind; severity: Severity }>([
  [DisconnectReason.WRONG_GENESIS, { kind: OffenceKind.WRONG_GENESIS, severity: Severity.FATAL }],
  [DisconnectReason.WRONG_NETWORK, { kind: OffenceKind.WRONG_NETWORK, severity: Severity.FATAL }],
  [DisconnectReason.BAD_SIGNATURE, { kind: OffenceKind.BAD_SIGNATURE, severity: Severity.FATAL }],
  [DisconnectReason.BAD_VERSION, { kind: OffenceKind.BAD_VERSION, severity: Severity.LOW }],
  [DisconnectReason.FRAME_TOO_LARGE, { kind: OffenceKind.FRAME_TOO_LARGE, severity: Severity.MID }],
  [DisconnectReason.BAD_FRAME, { kind: OffenceKind.BAD_FRAME, severity: Severity.MID }],
  [DisconnectReason.PROTOCOL_ERROR, { kind: OffenceKind.PROTOCOL_VIOLATION, severity: Severity.MID }],
  [DisconnectReason.PING_TIMEOUT, { kind: OffenceKind.PING_TIMEOUT, severity: Severity.LOW }],
  [DisconnectReason.HANDSHAKE_TIMEOUT, { kind: OffenceKind.HANDSHAKE_TIMEOUT, severity: Severity.LOW }],
]);

export function offenceFor(reason: DisconnectReason): { kind: OffenceKind; severity: Severity } | undefined {
  return OFFENCES.get(reason);
}

/** `OFFENCE_KIND_BAD_FRAME` -> `bad_frame`. */
export function offenceLabel(kind: OffenceKind): string {
  return (OffenceKind[kind] ?? "UNSPECIFIED").toLowerCase();
}

/** Handshake-stage failures, for timenet_gateway_handshake_failures_total. */
export function isHandshakeFailure(reason: DisconnectReason): boolean {
  return [
    DisconnectReason.WRONG_GENESIS,
    DisconnectReason.WRONG_NETWORK,
    DisconnectReason.BAD_VERSION,
    DisconnectReason.BAD_SIGNATURE,
    DisconnectReason.HANDSHAKE_TIMEOUT,
    DisconnectReason.SELF_CONNECTION,
  ].includes(reason);
}
