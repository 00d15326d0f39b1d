import type { CliError } from "./cli-error.js";

/**
 * What a report command prints, and the failure it ends with when the report
 * found a problem: the report goes to stdout all the same, the failure is
 * the one line on stderr and the exit code.
 */
export interface CommandReport {
  text: string;
  failure?: CliError;
}
