// timenetctl entry point: the process's arguments in, its exit code out.
import { silenceIpServernameWarning } from "./quiet-warnings.js";
import { runCli } from "./run-cli.js";

silenceIpServernameWarning();
process.exitCode = await runCli(process.argv.slice(2));
