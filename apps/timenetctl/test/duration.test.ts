import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../src/duration.js";
import { formatTimestamp } from "../src/timestamp.js";

test("parseDuration reads s, m, h, d, ms and combinations; 0 is 0", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("10m"), 600_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("1d"), 86_400_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration(" 2H "), 7_200_000);
  assert.equal(parseDuration("0"), 0);
  assert.equal(parseDuration("0s"), 0);
});

test("parseDuration rejects what is not a duration, in one line", () => {
  for (const bad of ["", "30", "-5m", "5x", "m", "1.5h", "h2", "1 h"]) {
    assert.throws(() => parseDuration(bad), (err: Error) => !err.message.includes("\n"), bad);
  }
  assert.throws(() => parseDuration("30"), /needs a unit/);
  assert.throws(() => parseDuration("99999999999999999d"), /too long/);
});

test("formatDuration shows the two largest units, rounded down", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(999), "0s");
  assert.equal(formatDuration(-5_000), "0s");
  assert.equal(formatDuration(45_000), "45s");
  assert.equal(formatDuration(63_500), "1m 3s");
  assert.equal(formatDuration(7_200_000), "2h");
  assert.equal(formatDuration(7_500_000 + 59_999), "2h 5m");
  assert.equal(formatDuration(90_061_000), "1d 1h");
  assert.equal(formatDuration(86_400_000 + 59_000), "1d");
});

test("formatDuration reads back through parseDuration for whole units", () => {
  for (const text of ["30s", "10m", "2h", "1d"]) assert.equal(formatDuration(parseDuration(text)), text);
});

test("formatTimestamp: ISO with ago / in, and the zero text for unset", () => {
  const now = Date.parse("2025-01-01T12:00:00.000Z");
  assert.equal(formatTimestamp(0n, now), "-");
  assert.equal(formatTimestamp(0n, now, "never"), "never");
  assert.equal(formatTimestamp(BigInt(now - 300_000), now), "2025-01-01T11:55:00.000Z (5m ago)");
  assert.equal(formatTimestamp(BigInt(now + 7_200_000), now), "2025-01-01T14:00:00.000Z (in 2h)");
});
