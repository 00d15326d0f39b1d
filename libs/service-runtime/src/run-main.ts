import { ConfigError } from "@timenet/config";
import type { Logger } from "@timenet/telemetry";

export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * How long a stop may take before runMain gives up on it: under Compose's
 * 10 s grace period (and the devnet's), so a stop that hangs ends with our
 * line saying so rather than with an unexplained SIGKILL.
 */
export const STOP_DEADLINE_MS = 8_000;

export interface RunMainOptions {
  /** A stop still running after this is abandoned: an error line, exit 1. Default STOP_DEADLINE_MS. */
  stopDeadlineMs?: number;
}

/**
 * The body of every service's main.ts: starts it, logs a fatal start error
 * and exits 1 (a ConfigError: its one line on stderr and exit 2, as
 * loadConfigOrExit), stops cleanly on SIGTERM/SIGINT (exit 0; Compose's grace
 * period) within `stopDeadlineMs` (else exit 1: a cleanup step waiting on
 * something that is gone never keeps the process alive), and treats an
 * uncaught exception as fatal.
 */
export async function runMain(name: string, logger: Logger, start: () => Promise<Stoppable>, o: RunMainOptions = {}): Promise<void> {
  const stopDeadlineMs = o.stopDeadlineMs ?? STOP_DEADLINE_MS;
  process.on("uncaughtException", (err) => {
    logger.fatal({ err }, "uncaught exception");
    process.exit(1);
  });
  let service: Stoppable;
  try {
    service = await start();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    logger.fatal({ err }, `${name} failed to start`);
    process.exit(1);
  }
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      logger.info({ signal }, "signal received");
      setTimeout(() => {
        logger.error({ deadline_ms: stopDeadlineMs }, `${name} did not stop within the deadline; exiting without finishing its stop`);
        process.exit(1);
      }, stopDeadlineMs);
      service.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, "stop failed");
          process.exit(1);
        },
      );
    });
  }
}
