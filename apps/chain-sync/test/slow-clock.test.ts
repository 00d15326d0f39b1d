// A node whose clock is 20 s slow (its gateway and store processes see
// Date.now 20 s behind; NTP broken on its host) among three honest nodes with
// real producers: every new block looks 20 s early to it. It must hold them
// and apply them when its clock gets there, follow the chain, report nobody,
// be reported by nobody, and say its clock looks wrong.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { blockHash, DEVNET, hashHex, networkFileJson, withLimits } from "@timenet/chain";
import { OffenceSchema, Subjects } from "@timenet/proto";
import { skewedClockEnv, tempDir, waitFor } from "@timenet/testkit";
import { FAST, nodePool, startProducerProcess, waitHeight, type SyncNode } from "./harness.js";

const NETWORK = withLimits(DEVNET, { blockIntervalMs: 300, maxFutureDriftMs: 100 });
const SKEW_MS = -20_000;
const { node, stopAll } = nodePool();
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await stopAll();
});

const metric = async (url: string, name: string): Promise<number> => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(await (await fetch(url)).text())?.[1] ?? 0);

test("a node 20 s slow follows the chain 20 s late, records no offence against anyone and none against it, and warns about its clock", async () => {
  const dir = await tempDir("slow-clock-");
  cleanups.push(() => dir.remove());
  const networkFile = join(dir.path, "devnet-300ms.json");
  writeFileSync(networkFile, networkFileJson(NETWORK));
  const honest = await Promise.all([190, 191, 192].map((k) => node(k, { network: networkFile })));
  const skew = skewedClockEnv(SKEW_MS);
  const slow = await node(193, { network: networkFile, gatewayEnv: skew, storeEnv: skew });
  const all: SyncNode[] = [...honest, slow];
  const offences: string[] = [];
  for (const n of all) n.bus.subscribe(Subjects.offence, OffenceSchema, (o) => void offences.push(`${n.ip} reports ${o.ip}: ${o.kind} ${o.detail}`));

  for (const n of all) await n.startSync(FAST);
  const [h1, h2, h3] = honest as [SyncNode, SyncNode, SyncNode];
  await h1.dial(h2);
  await h1.dial(h3);
  await h2.dial(h3);
  for (const h of honest) await slow.dial(h);
  const producers = await Promise.all([h1, h2].map((h, i) => startProducerProcess(h, i, networkFile)));
  cleanups.push(() => Promise.all(producers.map((p) => p.stop())));

  // The honest chain grows; the slow node holds what looks early and follows about 20 s behind.
  await waitHeight(h1, 10, 30_000);
  const target = await h1.height();
  const heldAt = Date.now();
  await waitFor(async () => (await metric(slow.storeMetricsUrl, "timenet_store_held_blocks")) > 0, { timeoutMs: 15_000, message: "the slow node holds early blocks" });
  await waitHeight(slow, target, 60_000);
  assert.ok(Date.now() - heldAt > 5_000, "applied only when its own clock got there");
  const hashAt = async (n: SyncNode, h: number) => hashHex(blockHash((await n.store.getBlock({ by: { case: "height", value: h } })).block!.header!));
  // Two producers 300 ms apart may fork for a block or two; the honest nodes settle it, and the slow node follows their choice 20 s later
  // (after its clock reaches the winning blocks, and perhaps a rewound fetch of them: 90 s leaves room for a loaded machine).
  let ours = "";
  let theirs = "";
  await waitFor(
    async () => {
      [ours, theirs] = await Promise.all([hashAt(slow, target), hashAt(h1, target)]);
      return ours === theirs;
    },
    { timeoutMs: 90_000, intervalMs: 200, message: () => `the same chain at ${target}: slow ${ours}, honest ${theirs}` },
  ).catch(async (err: Error) => {
    // Where each node stands, so a failure can be read without a rerun.
    const short = (hex: string) => hex.slice(0, 12);
    const lines = await Promise.all(
      all.map(async (n) => {
        const at = await Promise.all([target - 2, target - 1, target].map(async (h) => short(await hashAt(n, h).catch(() => "none"))));
        const m = (name: string) => metric(n.storeMetricsUrl, name);
        return `${n.ip}: height ${await n.height()} (final ${await m("timenet_store_final_height")}), ${target - 2}..${target} ${at.join(" ")}, held ${await m("timenet_store_held_blocks")}, side ${await m("timenet_store_side_blocks")}`;
      }),
    );
    throw new Error(`${err.message}\n${lines.join("\n")}\noffences: ${offences.join("; ") || "none"}`);
  });

  // Its clock warning: 20 s behind the median of its three peers; the honest nodes' clocks are fine.
  await waitFor(async () => (await metric(slow.gatewayMetricsUrl, "timenet_gateway_clock_suspect")) === 1, { message: "clock warning on the slow node" });
  const offset = await metric(slow.gatewayMetricsUrl, "timenet_gateway_clock_offset_seconds");
  assert.ok(offset < -19 && offset > -21, `offset ${offset} s`);
  for (const h of honest) assert.equal(await metric(h.gatewayMetricsUrl, "timenet_gateway_clock_suspect"), 0, `${h.ip} clock fine`);

  // Nobody blamed anybody, and its store refused nothing.
  assert.deepEqual(offences, []);
  assert.equal(await metric(slow.storeMetricsUrl, "timenet_store_validation_failures_total"), 0);
});
