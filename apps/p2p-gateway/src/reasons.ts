import { DisconnectReason, OffenceKind } from "@timenet/proto";

/**
 * Closes that we decided because the peer misbehaved, and the offence each
 * is. Ours only: a peer telling us it timed us out is not evidence; and only
 * on an authenticated connection (see CloseInfo.authenticated). How much
 * each kind weighs is the registry's decision (it is the only judge). An
 * older protocol version (BAD_VERSION) is an upgrade to make, not an offence;
 * AUTHENTICATION_FAILED is never one (it may be the path's doing).
 */
const OFFENCES = new Map<DisconnectReason, OffenceKind>([
  [DisconnectReason.WRONG_GENESIS, OffenceKind.WRONG_GENESIS],
  [DisconnectReason.WRONG_NETWORK, OffenceKind.WRONG_NETWORK],
  [DisconnectReason.BAD_SIGNATURE, OffenceKind.BAD_SIGNATURE],
  [DisconnectReason.FRAME_TOO_LARGE, OffenceKind.FRAME_TOO_LARGE],
  [DisconnectReason.BAD_FRAME, OffenceKind.BAD_FRAME],
  [DisconnectReason.PROTOCOL_ERROR, OffenceKind.PROTOCOL_VIOLATION],
  [DisconnectReason.PING_TIMEOUT, OffenceKind.PING_TIMEOUT],
  [DisconnectReason.HANDSHAKE_TIMEOUT, OffenceKind.HANDSHAKE_TIMEOUT],
]);

export function offenceFor(reason: DisconnectReason): OffenceKind | undefined {
  return OFFENCES.get(reason);
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
    DisconnectReason.AUTHENTICATION_FAILED,
  ].includes(reason);
}
