import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { Counter } from "prom-client";
import { holdOutboundPort, tempDir } from "@timenet/testkit";
import { createLogger, createRegistry, PeerLabeler, startTelemetryServer, TelemetryError } from "../src/index.js";

test("/metrics serves default and custom metrics; two registries coexist in one process", async () => {
  const r1 = createRegistry({ service: "a" });
  const r2 = createRegistry({ service: "b" });
  new Counter({ name: "timenet_test_one_total", help: "x", registers: [r1] }).inc(3);
  new Counter({ name: "timenet_test_two_total", help: "x", registers: [r2] }).inc();
  const s1 = await startTelemetryServer({ port: 0, registry: r1 });
  const s2 = await startTelemetryServer({ port: 0, registry: r2 });
  try {
    const m1 = await (await fetch(`http://127.0.0.1:${s1.port}/metrics`)).text();
    const m2 = await (await fetch(`http://127.0.0.1:${s2.port}/metrics`)).text();
    assert.match(m1, /timenet_test_one_total 3/);
    assert.match(m1, /process_cpu_seconds_total/);
    assert.match(m1, /nodejs_eventloop_lag_seconds/);
    assert.doesNotMatch(m1, /timenet_test_two_total/);
    assert.match(m2, /timenet_test_two_total 1/);
    assert.equal((await fetch(`http://127.0.0.1:${s1.port}/healthz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${s1.port}/nope`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${s1.port}/metrics`, { method: "POST" })).status, 405);
  } finally {
    await s1.stop();
    await s2.stop();
  }
});

test("/readyz is 503 until every check passes; a throwing check is not ready", async () => {
  let ready = false;
  const s = await startTelemetryServer({ port: 0, registry: createRegistry({ service: "r", collectDefault: false }), readiness: [{ name: "nats", check: () => ready }] });
  try {
    const r1 = await fetch(`http://127.0.0.1:${s.port}/readyz`);
    assert.equal(r1.status, 503);
    assert.deepEqual(await r1.json(), { status: "not_ready", checks: { nats: false } });
    ready = true;
    assert.equal((await fetch(`http://127.0.0.1:${s.port}/readyz`)).status, 200);
    s.addReadinessCheck({
      name: "broken",
      check: () => {
        throw new Error("boom");
      },
    });
    assert.equal((await fetch(`http://127.0.0.1:${s.port}/readyz`)).status, 503);
  } finally {
    await s.stop();
  }
});

test("/readyz names why a failing check fails (its reason), and only while it fails", async () => {
  let visible = true;
  const s = await startTelemetryServer({
    port: 0,
    registry: createRegistry({ service: "r", collectDefault: false }),
    readiness: [{ name: "source_ips_visible", check: () => visible, reason: () => "every peer from 172.17.0.1" }],
  });
  try {
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${s.port}/readyz`)).json(), { status: "ready", checks: { source_ips_visible: true } });
    visible = false;
    const r = await fetch(`http://127.0.0.1:${s.port}/readyz`);
    assert.equal(r.status, 503);
    assert.deepEqual(await r.json(), { status: "not_ready", checks: { source_ips_visible: false }, reasons: { source_ips_visible: "every peer from 172.17.0.1" } });
  } finally {
    await s.stop();
  }
});

test("a port in use is a TelemetryError naming the address", async () => {
  const registry = createRegistry({ service: "p", collectDefault: false });
  const s = await startTelemetryServer({ port: 0, registry });
  try {
    await assert.rejects(startTelemetryServer({ port: s.port, registry }), (err: unknown) => {
      assert.ok(err instanceof TelemetryError);
      assert.equal(err.code, "ERR_TELEMETRY_LISTEN");
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${s.port}`));
      assert.doesNotMatch(err.message, /ephemeral/, "another server listens there");
      return true;
    });
  } finally {
    await s.stop();
  }
});

test("a port held by an outbound connection gets the sysctl that keeps it for listening", async () => {
  const registry = createRegistry({ service: "p", collectDefault: false });
  const held = await holdOutboundPort();
  try {
    const out = await startTelemetryServer({ port: held.port, registry }).catch((err: Error) => err);
    if (!(out instanceof Error)) {
      await out.stop(); // so that a regression fails here instead of hanging the run
      assert.fail(`listening on ${held.port} succeeded`);
    }
    assert.ok(out instanceof TelemetryError);
    assert.match(out.message, /EADDRINUSE/);
    assert.match(out.message, new RegExp(`an outbound connection holds it .*ip_local_reserved_ports=(.*,)?${held.port}(,|\\)|$)`));
  } finally {
    await held.close();
  }
});

test("logs are JSON lines with service, node and a child's peer_ip", async () => {
  const dir = await tempDir("log-");
  try {
    const file = `${dir.path}/sub/gw.log`;
    const log = createLogger({ service: "p2p-gateway", node: "n1", destination: file });
    log.child({ peer_ip: "127.0.0.2", conn_id: 4 }).info("hello");
    await new Promise<void>((resolve, reject) => log.flush((err) => (err ? reject(err) : resolve())));
    const line = JSON.parse((await readFile(file, "utf8")).trim().split("\n")[0]!) as Record<string, unknown>;
    assert.equal(line.service, "p2p-gateway");
    assert.equal(line.node, "n1");
    assert.equal(line.peer_ip, "127.0.0.2");
    assert.equal(line.level, "info");
    assert.equal(line.msg, "hello");
  } finally {
    await dir.remove();
  }
});

test("peer labels stay bounded", () => {
  const l = new PeerLabeler(["10.0.0.1"]);
  assert.equal(l.label("10.0.0.1"), "10.0.0.1");
  assert.equal(l.label("10.0.0.2"), "other");
  l.add("10.0.0.2");
  assert.equal(l.label("10.0.0.2"), "10.0.0.2");
});
