/** A configuration value that cannot be used. Its message is the one line an operator sees. */
export class ConfigError extends Error {
  readonly code = "ERR_CONFIG";
  constructor(
    readonly variable: string,
    readonly value: string | undefined,
    readonly expected: string,
  ) {
    super(
      value === undefined
        ? `invalid configuration: ${variable} is required: expected ${expected}`
        : `invalid configuration: ${variable}=${JSON.stringify(value)}: expected ${expected}`,
    );
    this.name = "ConfigError";
  }

  /** Values that are each fine alone but not together: `A="10m", B="5m": expected A <= B`. */
  static combination(values: Array<[variable: string, shown: string]>, expected: string): ConfigError {
    const err = new ConfigError(values.map(([v]) => v).join(","), undefined, expected);
    err.message = `invalid configuration: ${values.map(([v, s]) => `${v}=${JSON.stringify(s)}`).join(", ")}: expected ${expected}`;
    return err;
  }

  /** A value refused for a reason that is its own sentence: `GRPC_HOST=0.0.0.0 is beyond loopback: ...`. */
  static refusal(variable: string, value: string | undefined, message: string): ConfigError {
    const err = new ConfigError(variable, value, "");
    err.message = message;
    return err;
  }
}
