import { test } from "node:test";
import assert from "node:assert/strict";
import { checkNatsCredentials, ConfigError, natsUrlHosts } from "../src/index.js";

test("NATS_URL hosts: with and without scheme, credentials, IPv6, lists", () => {
  assert.deepEqual(natsUrlHosts("nats://127.0.0.1:4222"), ["127.0.0.1"]);
  assert.deepEqual(natsUrlHosts("nats://u:p@nats:4222,tls://[::1]:4222"), ["nats", "[::1]"]);
  assert.deepEqual(natsUrlHosts("localhost:4222"), ["localhost"]);
});

test("without a user only a loopback NATS; with one, a real password", () => {
  const refused = (o: Parameters<typeof checkNatsCredentials>[0], variable: string, why: RegExp) =>
    assert.throws(
      () => checkNatsCredentials(o),
      (e: unknown) => e instanceof ConfigError && e.variable === variable && why.test(e.message),
    );
  checkNatsCredentials({ url: "nats://127.0.0.1:4222" });
  checkNatsCredentials({ url: "nats://[::1]:4222,nats://localhost:4223" });
  checkNatsCredentials({ url: "nats://nats:4222", user: "p2p-gateway", pass: "pa1b2c3d4e5f6a7b8c9" });
  refused({ url: "nats://nats:4222" }, "NATS_USER", /beyond loopback/);
  refused({ url: "nats://127.0.0.1:4222,nats://10.0.0.2:4222" }, "NATS_USER", /beyond loopback/);
  refused({ url: "nats://127.0.0.1:4222", pass: "pa1b2c3d4e5f6a7b8c9" }, "NATS_USER", /without NATS_USER/);
  refused({ url: "nats://nats:4222", user: "x", pass: "  " }, "NATS_PASS", /is empty/);
  refused({ url: "nats://nats:4222", user: "x", pass: "CHANGE-ME-host-1-gateway" }, "NATS_PASS", /CHANGE-ME/);
  refused({ url: "nats://nats:4222", user: "x", pass: "xchange-me-xxxxxxxxxxxx" }, "NATS_PASS", /CHANGE-ME/);
  refused({ url: "nats://nats:4222", user: "x", pass: "pabc" }, "NATS_PASS", /shorter than 16/);
  refused({ url: "nats://nats:4222", user: "x", pass: "1234567890abcdef1234" }, "NATS_PASS", /start with a letter/);
  refused({ url: "nats://nats:4222", user: "x", pass: "pabc def1234567890123" }, "NATS_PASS", /start with a letter/);
});
