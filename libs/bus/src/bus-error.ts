export type BusErrorCode = "ERR_BUS_CONNECT" | "ERR_BUS_DECODE" | "ERR_BUS_TIMEOUT" | "ERR_BUS_NO_RESPONDERS" | "ERR_BUS_CLOSED" | "ERR_BUS_STATE";

export class BusError extends Error {
  constructor(
    readonly code: BusErrorCode,
    message: string,
    readonly subject?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "BusError";
  }
}
