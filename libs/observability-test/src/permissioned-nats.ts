import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { NATS_PASSWORD_ENV, NATS_USERS, type NatsUser } from "@timenet/proto";
import { startNatsWithConfig, type ConfiguredNats } from "./nats.js";

export interface PermissionedNats extends ConfiguredNats {
  /** NATS_USER / NATS_PASS of a user, as a service's environment. */
  env(user: NatsUser): { NATS_USER: string; NATS_PASS: string };
  /** Bus.connect's credentials of a user. */
  creds(user: NatsUser): { user: string; pass: string };
  /** The server's "Permissions Violation" lines so far. */
  violations(): string[];
}

/**
 * A nats-server as on a node: JetStream, 8 MB payloads and the committed
 * deploy/nats/users.conf (one user per service), with a random password per
 * user in its environment.
 */
export async function startPermissionedNats(o: { deployDir: string; host?: string }): Promise<PermissionedNats> {
  const passwords = Object.fromEntries(NATS_USERS.map((u) => [u, `p${randomBytes(24).toString("hex")}`])) as Record<NatsUser, string>;
  const env = Object.fromEntries(NATS_USERS.map((u) => [NATS_PASSWORD_ENV[u], passwords[u]]));
  const nats = await startNatsWithConfig("max_payload: 8MB\ninclude ./users.conf", { host: o.host, env, files: { "users.conf": join(o.deployDir, "nats", "users.conf") } });
  return {
    ...nats,
    env: (user) => ({ NATS_USER: user, NATS_PASS: passwords[user] }),
    creds: (user) => ({ user, pass: passwords[user] }),
    violations: () => nats.log().split("\n").filter((l) => /(publish|subscription) violation/i.test(l)),
  };
}
