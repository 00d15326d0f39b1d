// timenetctl entry point: the process's arguments in, its exit code out.
import { runCli } from "./run-cli.js";

process.exitCode = await runCli(process.argv.slice(2));
