import { ConfigError } from "@timenet/config";
import type { Logger } from "@timenet/telemetry";

export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * The body of every service's main.ts: starts it, logs a fatal start error
 * and exits 1 (a ConfigError: its one line on stderr and exit 2, as
 * loadConfigOrExit), stops cleanly on SIGTERM/SIGINT (exit 0; Compose's grace
 * period), and treats an uncaught exception as fatal.
 */
export async function runMain(name: string, logger: Logger, start: () => Promise<Stoppable>): Promise<void> {
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
