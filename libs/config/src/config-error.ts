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
}
