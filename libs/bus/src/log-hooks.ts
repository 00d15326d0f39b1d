import type { BusEvents } from "./bus.js";

/** The part of a pino logger the hooks use. */
interface HookLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Bus events as log lines: the same wording in every service. */
export function busLogHooks(logger: HookLogger): BusEvents {
  return {
    onPublishError: (subject, err) => logger.warn({ subject, err: err.message }, "NATS publish failed"),
    onDecodeError: (subject, err) => logger.warn({ subject, err: err.message }, "undecodable NATS message dropped"),
    onHandlerError: (subject, err) => logger.error({ subject, err: err.message }, "NATS handler failed"),
    onStateReadStatus: (watch, s) => {
      const line = { watch, status: s.type, detail: s.detail };
      if (s.type === "read_restarted") logger.info(line, "state watch reads again");
      else if (s.type === "read_ended" || s.type === "read_restart_failed") logger.warn(line, "state watch's read ended; beginning it again");
      else if (s.type === "consumer_left") logger.warn(line, "a stopped state watch's consumer could not be deleted: NATS removes it after its 5-minute inactivity threshold");
      else logger.warn(line, "state watch's consumer lost or recreated");
    },
    onStateBucketRecreated: (bucket, how, entries) =>
      logger.warn({ bucket, how, entries }, how === "deleted" ? "state bucket was deleted: created again and its entries written back" : "state bucket was replaced by another stream: its entries written back"),
    onStatus: (status) => logger.info({ status }, "NATS connection status"),
    onPermissionError: (operation, subject, err) => logger.error({ operation, subject, err: err.message }, "NATS refused: this service's NATS user may not use the subject (deploy/nats/users.conf)"),
  };
}
