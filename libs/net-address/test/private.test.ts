import { test } from "node:test";
import assert from "node:assert/strict";
import { isPrivateIp } from "../src/index.js";

test("isPrivateIp: RFC 1918 and ULA only (what a NAT or a Docker bridge hands out)", () => {
  for (const ip of ["10.0.0.1", "172.16.0.1", "172.17.0.1", "172.31.255.254", "192.168.1.1", "fd00::1", "fc12::5"]) {
    assert.equal(isPrivateIp(ip), true, ip);
  }
  for (const ip of ["172.15.0.1", "172.32.0.1", "192.169.0.1", "11.0.0.1", "127.0.0.1", "169.254.1.1", "100.64.0.1", "8.8.8.8", "::1", "fe80::1", "2001:db8::1"]) {
    assert.equal(isPrivateIp(ip), false, ip);
  }
});
