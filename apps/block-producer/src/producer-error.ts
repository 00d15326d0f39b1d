/** Why a producer refuses to start. Its message is the one line an operator sees. */
export type ProducerErrorCode =
  /** The key file cannot be read or the devnet index is not a key. */
  | "ERR_PRODUCER_KEY"
  /** The key is not among the network's producers: its blocks would be refused. */
  | "ERR_NOT_A_PRODUCER"
  /** A public devnet key (PRODUCER_DEVNET_INDEX) on a network that is not a devnet: anyone could sign as this producer. */
  | "ERR_DEVNET_KEY";

export class ProducerError extends Error {
  constructor(
    readonly code: ProducerErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ProducerError";
  }
}
