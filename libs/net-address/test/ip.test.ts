import { test } from "node:test";
import assert from "node:assert/strict";
import { compareIp, formatEndpoint, isPublicIp, normalizeIp, parseEndpoint, subnetKey } from "../src/index.js";

test("IPv4-mapped IPv6 is the same peer as its IPv4 address", () => {
  assert.equal(normalizeIp("::ffff:127.0.0.2"), "127.0.0.2");
  assert.equal(normalizeIp("::FFFF:7f00:3"), "127.0.0.3");
  assert.equal(normalizeIp("0:0:0:0:0:ffff:10.1.2.3"), "10.1.2.3");
  assert.equal(normalizeIp(" 10.0.0.1 "), "10.0.0.1");
});

test("IPv6 has one canonical form", () => {
  assert.equal(normalizeIp("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  assert.equal(normalizeIp("[2001:db8::1]"), "2001:db8::1");
  assert.equal(normalizeIp("fe80::1%eth0"), "fe80::1");
  assert.equal(normalizeIp("0:0:0:0:0:0:0:1"), "::1");
  assert.equal(normalizeIp("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
});

test("non-addresses are refused with a clear error", () => {
  assert.throws(() => normalizeIp("example.com"), { code: "ERR_BAD_ADDRESS" });
  assert.throws(() => normalizeIp("1.2.3.256"), /not an IP address/);
});

test("compareIp is numeric, not lexical, and IPv4 orders as its mapped IPv6 form", () => {
  assert.ok(compareIp("127.0.0.10", "127.0.0.9") > 0);
  assert.ok(compareIp("9.0.0.1", "10.0.0.1") < 0);
  assert.equal(compareIp("::ffff:127.0.0.2", "127.0.0.2"), 0);
  assert.ok(compareIp("255.255.255.255", "2001:db8::1") < 0);
  assert.ok(compareIp("0.0.0.1", "::1") > 0);
});

test("endpoints parse with the port as an attribute", () => {
  assert.deepEqual(parseEndpoint("127.0.0.2:24100"), { ip: "127.0.0.2", port: 24100 });
  assert.deepEqual(parseEndpoint("[::ffff:127.0.0.2]:1"), { ip: "127.0.0.2", port: 1 });
  assert.deepEqual(parseEndpoint("10.0.0.1", 24100), { ip: "10.0.0.1", port: 24100 });
  assert.deepEqual(parseEndpoint("2001:db8::1", 5), { ip: "2001:db8::1", port: 5 });
  assert.throws(() => parseEndpoint("10.0.0.1:99999"), /out of range/);
  assert.throws(() => parseEndpoint("10.0.0.1"), /missing port/);
  assert.throws(() => parseEndpoint("10.0.0.1:x"), /bad port/);
  assert.equal(formatEndpoint({ ip: "2001:db8::1", port: 5 }), "[2001:db8::1]:5");
});

test("subnetKey groups addresses by /24 and /64, mapped IPv4 as IPv4", () => {
  assert.equal(subnetKey("127.0.0.2"), subnetKey("127.0.0.200"));
  assert.notEqual(subnetKey("127.0.0.2"), subnetKey("127.0.1.2"));
  assert.equal(subnetKey("::ffff:10.1.2.3"), "v4:10.1.2.0/24");
  assert.equal(subnetKey("10.1.2.3", 16), "v4:10.1.0.0/16");
  assert.equal(subnetKey("10.1.2.3", 20), "v4:10.1.0.0/20");
  assert.equal(subnetKey("2001:db8:1:2::5"), subnetKey("2001:db8:1:2:ffff::1"));
  assert.notEqual(subnetKey("2001:db8:1:2::5"), subnetKey("2001:db8:1:3::5"));
});

test("isPublicIp rejects loopback, private, link-local and unique-local addresses", () => {
  for (const ip of ["127.0.0.1", "10.0.0.1", "172.16.5.5", "192.168.1.1", "169.254.1.1", "100.64.0.1", "0.0.0.0", "::1", "fd00::1", "fe80::1"]) {
    assert.equal(isPublicIp(ip), false, ip);
  }
  for (const ip of ["50.28.104.50", "8.8.8.8", "172.32.0.1", "2001:4860::8888"]) assert.equal(isPublicIp(ip), true, ip);
});
