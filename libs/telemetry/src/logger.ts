import { mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { pino, type Logger, type DestinationStream } from "pino";
import pretty from "pino-pretty";

export type { Logger };

export interface LoggerOptions {
  /** In every line as `service`. */
  service: string;
  /** In every line as `node`, when given. */
  node?: string;
  /** pino level; default "info". */
  level?: string;
  /** Human-readable output; default: when stdout is a terminal. */
  pretty?: boolean;
  /** Write JSON lines to this file instead of stdout (the devnet's logs/). */
  destination?: string;
}

/** JSON lines with ISO time and a string level, so `jq` and Loki read them as they are. */
export function createLogger(opts: LoggerOptions): Logger {
  const base: Record<string, string> = { service: opts.service };
  if (opts.node !== undefined) base.node = opts.node;
  const options = {
    level: opts.level ?? "info",
    base,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  let stream: DestinationStream;
  if (opts.destination) {
    mkdirSync(dirname(opts.destination), { recursive: true });
    // Opened here, synchronously, so the first lines are never lost to a race with the open.
    stream = pino.destination({ dest: openSync(opts.destination, "a"), sync: false });
  } else if (opts.pretty ?? process.stdout.isTTY === true) {
    stream = pretty({ colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" });
  } else {
    stream = pino.destination({ dest: 1, sync: false });
  }
  return pino(options, stream);
}
