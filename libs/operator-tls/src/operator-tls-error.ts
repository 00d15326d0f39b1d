/** Why a CA or TLS directory cannot be used. Its message names the file: it is the one line an operator sees. */
export class OperatorTlsError extends Error {
  constructor(
    readonly code:
      | "ERR_TLS_MISSING"
      | "ERR_TLS_BAD_PEM"
      | "ERR_TLS_NOT_SIGNED"
      | "ERR_TLS_KEY_MISMATCH"
      | "ERR_TLS_EXPIRED"
      | "ERR_TLS_NOT_YET_VALID"
      | "ERR_TLS_NOT_CA"
      | "ERR_TLS_EXISTS",
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = "OperatorTlsError";
  }
}
