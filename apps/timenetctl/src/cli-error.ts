/** Exit codes, so scripts can tell a typo from a node that is down. */
export const ExitCode = {
  ok: 0,
  /** Anything unexpected (an INTERNAL answer, a bug). */
  failure: 1,
  /** Bad usage or a bad argument, found before any call. */
  usage: 2,
  /** The peer-registry cannot be reached (down, wrong port, no answer in time). */
  unreachable: 3,
  /** The service answered and refused the request (not found, invalid), or TLS refused (no or a foreign client cert). */
  refused: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as one line on stderr, with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message);
    this.name = "CliError";
  }
}
