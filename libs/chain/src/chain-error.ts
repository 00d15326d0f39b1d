/** Why a chain rule could not even be applied: a malformed header, bad network parameters. */
export type ChainErrorCode = "ERR_MALFORMED" | "ERR_NETWORK_PARAMS";

export class ChainError extends Error {
  constructor(
    readonly code: ChainErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ChainError";
  }
}
