import { test } from "node:test";
import assert from "node:assert/strict";
import { isLoopbackHost, operatorPlaneRefusal } from "../src/index.js";

test("loopback: 127.0.0.0/8, ::1 and localhost; everything else is beyond", () => {
  for (const h of ["127.0.0.1", "127.0.3.7", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ["0.0.0.0", "::", "10.8.0.11", "192.168.1.2", "128.0.0.1", "example.org", "", "::2"]) assert.equal(isLoopbackHost(h), false, h);
});

test("beyond loopback without OPERATOR_TLS_DIR: one line naming the variable", () => {
  const binds: Array<[string, string]> = [
    ["GRPC_HOST", "127.0.0.1"],
    ["METRICS_HOST", "0.0.0.0"],
  ];
  assert.equal(
    operatorPlaneRefusal(binds, undefined)?.message,
    'METRICS_HOST=0.0.0.0 is beyond loopback: set OPERATOR_TLS_DIR (see deploy/README.md "Operator TLS") or bind 127.0.0.1',
  );
  assert.equal(operatorPlaneRefusal(binds, "/run/timenet/tls"), undefined);
  assert.equal(operatorPlaneRefusal([["GRPC_HOST", "127.0.0.1"]], undefined), undefined);
});
