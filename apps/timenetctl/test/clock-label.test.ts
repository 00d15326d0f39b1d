import { test } from "node:test";
import assert from "node:assert/strict";
import { clockCell, clockLabel, type ClockInfo } from "../src/status-labels.js";

const info = (c: Partial<ClockInfo>): ClockInfo => ({ clockOffsetMs: 0, clockPeers: 0, clockSuspect: false, clockMinPeers: 3, clockWarnOffsetMs: 5_000n, ...c });

test("clockLabel: suspect, within, too few peers, none, an older gateway", () => {
  assert.equal(clockLabel(info({ clockOffsetMs: -20_080, clockPeers: 4, clockSuspect: true })), "20.1 s behind the median of 4 peers — check NTP (CLOCK_WARN_OFFSET 5s)");
  assert.equal(clockLabel(info({ clockOffsetMs: 7_000, clockPeers: 3, clockSuspect: true })), "7.0 s ahead of the median of 3 peers — check NTP (CLOCK_WARN_OFFSET 5s)");
  assert.equal(clockLabel(info({ clockOffsetMs: -180, clockPeers: 4 })), "within 0.2 s of 4 peers");
  assert.equal(clockLabel(info({ clockOffsetMs: 20_000, clockPeers: 1 })), "20.0 s ahead of the median of 1 peer (too few to judge: 3 needed)");
  assert.equal(clockLabel(info({})), "no peers to compare with");
  assert.equal(clockLabel(info({ clockMinPeers: 0, clockWarnOffsetMs: 0n })), "not reported by this gateway");
});

test("clockCell: the same judgements in one cell of status --all", () => {
  assert.equal(clockCell(info({ clockOffsetMs: -20_080, clockPeers: 4, clockSuspect: true })), "-20.1s CHECK NTP");
  assert.equal(clockCell(info({ clockOffsetMs: 7_000, clockPeers: 3, clockSuspect: true })), "+7.0s CHECK NTP");
  assert.equal(clockCell(info({ clockOffsetMs: -180, clockPeers: 4 })), "-0.2s");
  assert.equal(clockCell(info({ clockOffsetMs: 20_000, clockPeers: 1 })), "+20.0s (1/3 peers)");
  assert.equal(clockCell(info({})), "no peers");
  assert.equal(clockCell(info({ clockMinPeers: 0, clockWarnOffsetMs: 0n })), "-");
});
