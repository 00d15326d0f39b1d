import { ConfigError } from "./config-error.js";
import { isLoopbackHost } from "./loopback.js";

/** Letters, digits, `_`, `-`, a letter first: nats-server reads a `$VAR` password as a config value (12e45... would be a number). */
const PASSWORD = /^[A-Za-z][A-Za-z0-9_-]{15,}$/;
const HOW = 'generate one with `echo p$(openssl rand -hex 24)` (deploy/README.md "NATS users and permissions")';

/** The hosts of a NATS_URL (`nats://host:port`, `host:port`, comma-separated). */
export function natsUrlHosts(url: string): string[] {
  return url
    .split(",")
    .map((u) => /^(?:[a-z]+:\/\/)?(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)/i.exec(u.trim())?.[1] ?? "")
    .filter((h) => h !== "");
}

/**
 * The rule for a service's NATS credentials, checked before it connects:
 * without NATS_USER (and NATS_PASS) only a NATS on loopback (the dev and test
 * case: nats-server without auth on 127.0.0.1); with NATS_USER, a NATS_PASS of
 * at least 16 letters, digits, `_` or `-` starting with a letter, and never a
 * CHANGE-ME placeholder. Throws a ConfigError (one line naming the variable,
 * never showing the password) otherwise.
 */
export function checkNatsCredentials(o: { url: string; user?: string | undefined; pass?: string | undefined }): void {
  const user = o.user?.trim() || undefined;
  const pass = o.pass?.trim() || undefined;
  if (user === undefined) {
    if (pass !== undefined) throw ConfigError.refusal("NATS_USER", undefined, "invalid configuration: NATS_PASS is set without NATS_USER: set this service's NATS user");
    const remote = natsUrlHosts(o.url).find((h) => !isLoopbackHost(h));
    if (remote !== undefined) {
      throw ConfigError.refusal("NATS_USER", undefined, `invalid configuration: NATS_USER is required: NATS_URL=${o.url} is beyond loopback, where NATS runs with one user per service`);
    }
    return;
  }
  const refuse = (why: string) => ConfigError.refusal("NATS_PASS", undefined, `invalid configuration: NATS_PASS ${why}: ${HOW}`);
  if (pass === undefined) throw refuse("is empty");
  if (/change-me/i.test(pass)) throw refuse("is a CHANGE-ME placeholder");
  if (pass.length < 16) throw refuse("is shorter than 16 characters");
  if (!PASSWORD.test(pass)) throw refuse("must start with a letter and hold only letters, digits, _ and -");
}
