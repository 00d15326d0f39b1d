import { CommanderError } from "commander";
import { CliError, ExitCode } from "./cli-error.js";
import { buildProgram, type ProgramDeps } from "./program.js";
import { processOutput } from "./output.js";

/**
 * Runs timenetctl with `args` (without node and script) and returns the exit
 * code. Every failure is one line on stderr; no stack traces.
 */
export async function runCli(args: readonly string[], deps: ProgramDeps = {}): Promise<number> {
  const output = deps.output ?? processOutput;
  try {
    await buildProgram({ ...deps, output }).parseAsync([...args], { from: "user" });
    return ExitCode.ok;
  } catch (err) {
    // Commander has already printed its message (or the help).
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    if (err instanceof CliError) {
      output.err(`timenetctl: ${err.message}\n`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    output.err(`timenetctl: ${message.split("\n")[0]}\n`);
    return ExitCode.failure;
  }
}
