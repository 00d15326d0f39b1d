// Every PromQL expression of the Grafana dashboards and of the alert rules,
// evaluated by a real Prometheus scraping a real network (test/network.ts):
// each must parse and return data. Events that a healthy network never has
// (disconnects, bans, publish errors, a stuck node, ...) are caused on
// purpose below, each one by the fault that should show on its panel and
// fire its alert.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { Bus } from "@timenet/bus";
import { BroadcastSchema, PeerRegistryService, Subjects } from "@timenet/proto";
import { createGrpcClient } from "@timenet/grpc";
import { tempDir, waitFor } from "@timenet/testkit";
import { dashboardQueries, loadDashboards, substituteVariables, type DashboardQuery } from "../src/dashboards.js";
import { promtool, samplesOf, startPrometheus, type PrometheusHandle, type Rule } from "../src/prometheus.js";
import { DEPLOY, JOBS, planTestNetwork, type Host, type TestNetwork } from "./network.js";

const ALERTS_FILE = join(DEPLOY, "prometheus", "alerts.yml");

/** What Grafana puts in for its variables here: every host; windows for a 1 s scrape interval. */
const GRAFANA_VARIABLES = { host: ".*", __rate_interval: "10s", __interval: "2s", __range: "5m" };

/** The labels each alert must fire with in this scenario (an alert without an entry fails the test). */
const EXPECTED_ALERTS: Record<string, Record<string, string>> = {
  TimenetExpectedPeerMissing: { host: "host-1", peer: "127.0.0.4" },
  TimenetPeerCountBelowTarget: { host: "host-1" },
  TimenetConnectionCycling: { host: "host-1", peer: "127.0.0.2" },
  TimenetPingTimeouts: { host: "host-1", peer: "127.0.0.3" },
  TimenetGenesisMismatch: { host: "host-1" },
  TimenetClockSuspect: { host: "host-3" },
  TimenetNodeStuck: { host: "host-3" },
  TimenetBanListFull: { host: "host-2" },
  TimenetServiceDown: { host: "host-2", job: "peer-registry" },
  TimenetStateReadInterrupted: { host: "host-2" },
};

let net: TestNetwork | undefined;
let prom: PrometheusHandle | undefined;
let work: { path: string; remove(): Promise<void> } | undefined;
let configFile = "";
const metricsTexts = new Map<string, string>();

async function query(expr: string) {
  const res = await prom!.query(expr);
  return { res, samples: res.status === "success" ? samplesOf(res.data) : [] };
}

/** Waits until Prometheus has scraped what an expression selects. */
async function seen(expr: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await query(expr)).samples.length > 0, { timeoutMs, intervalMs: 250, message: `Prometheus sees ${expr}` });
}

async function connId(host: Host, ip: string): Promise<number | undefined> {
  return (await host.gateway.listConnections({}, { deadlineMs: 2_000 })).connections.find((c) => c.ip === ip)?.connId;
}

async function linked(host: Host, ip: string, notConnId?: number): Promise<number> {
  return waitFor(
    async () => {
      const id = await connId(host, ip);
      return id !== undefined && id !== notConnId ? id : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 50, message: `${host.name} connected to ${ip}` },
  );
}

/** Problems with each query: a PromQL error, no data, or a missing label. */
async function problemsOf(queries: readonly DashboardQuery[]): Promise<{ fatal: string[]; empty: string[] }> {
  const fatal: string[] = [];
  const empty: string[] = [];
  for (const q of queries) {
    const expr = substituteVariables(q.expr, GRAFANA_VARIABLES);
    const { res, samples } = await query(expr);
    if (res.status !== "success") fatal.push(`${q.where}: ${res.errorType}: ${res.error}\n    ${expr}`);
    else if (samples.length === 0) empty.push(`${q.where}: no data\n    ${expr}`);
    else if (q.label && samples.some((s) => !(q.label! in s.metric))) fatal.push(`${q.where}: a series without label ${q.label}\n    ${expr}`);
  }
  return { fatal, empty };
}

/** Evaluates until every query has data (a scrape or two may still be on its way), or the deadline. */
async function evaluateAll(queries: readonly DashboardQuery[], timeoutMs = 20_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { fatal, empty } = await problemsOf(queries);
    if (fatal.length > 0 || empty.length === 0 || Date.now() > deadline) return [...fatal, ...empty];
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

function prometheusConfig(n: TestNetwork): string {
  // JSON is YAML: Prometheus reads this as its configuration file.
  return JSON.stringify(
    {
      global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
      rule_files: [ALERTS_FILE],
      scrape_configs: JOBS.map((job) => ({
        job_name: job,
        static_configs: n
          .services()
          .filter((s) => s.job === job)
          .map((s) => ({ targets: [`127.0.0.1:${s.metricsPort}`], labels: { host: s.host } })),
      })),
    },
    null,
    2,
  );
}

/** The faults that the dashboards' rare-event panels and the alerts exist for, one each. */
async function causeTheFaults(n: TestNetwork): Promise<void> {
  const [h1, h2, h3] = [n.host("host-1"), n.host("host-2"), n.host("host-3")];

  // The intruder (another genesis) is a bootstrap peer of host-1: its
  // handshake fails with wrong_genesis and host-1's registry bans it at once.
  await seen(`timenet_gateway_handshake_failures_total{host="host-1", reason="wrong_genesis"}`);
  await seen(`timenet_registry_bans_total{host="host-1"}`);

  // host-3 has met host-1's longer chain and found it forks deeper than it may follow.
  await seen(`timenet_store_reorgs_total{host="host-3", result="too_deep"}`);

  // A 512 KiB transaction (within the network's limit): host-2's NATS takes
  // it, host-1's (256 KB max_payload) cannot, so host-1's gateway fails to
  // publish it on p2p.in.tx.
  const bus = await Bus.connect({ servers: h2.natsUrl, name: "observability-test" });
  try {
    bus.publish(Subjects.peerOutBroadcast, BroadcastSchema, { envelope: { payload: { case: "tx", value: { data: new Uint8Array(512 * 1024).fill(7) } } } });
    await bus.flush();
    await seen(`timenet_gateway_nats_publish_errors_total{host="host-1"}`);
  } finally {
    await bus.close();
  }

  // Connection cycling: host-1 closes its link to host-2 (operator
  // Disconnect) eight times; the registries re-make it each time.
  let id = await linked(h1, h2.ip);
  for (let i = 0; i < 8; i++) {
    await h1.gateway.disconnect({ ip: h2.ip });
    id = await linked(h1, h2.ip, id);
  }

  // A stalled peer: host-3's gateway frozen (SIGSTOP) until host-1 closes
  // the link for PING_TIMEOUT; then it resumes and is dialled again.
  const frozen = h3.service("p2p-gateway").process!.child;
  frozen.kill("SIGSTOP");
  try {
    await seen(`timenet_gateway_disconnects_total{host="host-1", reason="ping_timeout"}`);
  } finally {
    frozen.kill("SIGCONT");
  }
  await linked(h1, h3.ip);

  // host-3's gateway, 20 s slow, has judged its clock against its peers (host-1 at least).
  await seen(`timenet_gateway_clock_suspect{host="host-3"} == 1`);

  // host-2's admission bucket deleted under its registry and gateway (an operator's `nats kv rm`): the
  // gateway's watch of the policy ends; the registry's next write (the bans below) creates it again.
  const operator = await Bus.connect({ servers: h2.natsUrl, name: "observability-test-operator" });
  try {
    await (await jetstreamManager(operator.connection)).streams.delete("KV_REGISTRY_ADMISSION");
  } finally {
    await operator.close();
  }
  await seen(`timenet_nats_state_watch_events_total{host="host-2", job="p2p-gateway", event="read_ended"}`);

  // A full ban list: an operator bans three addresses on host-2 (MAX_BANS 1), so two bans are
  // lifted early. Two, each scraped: host-2's registry stops below, and increase() sees a step
  // only between two samples of the series (the first eviction is its birth at 1).
  const registry2 = createGrpcClient(PeerRegistryService, `127.0.0.1:${h2.service("peer-registry").grpcPort}`);
  try {
    for (const [i, ip] of ["192.0.2.1", "192.0.2.2", "192.0.2.3"].entries()) {
      await registry2.banPeer({ ip, durationMs: 600_000n, reason: "observability test" });
      if (i > 0) await seen(`timenet_registry_unbans_total{host="host-2", reason="evicted"} == ${i}`);
    }
  } finally {
    registry2.close();
  }

  await seen(`timenet_nats_state_buckets_recreated_total{host="host-2", bucket="REGISTRY_ADMISSION", how="deleted"}`);
  await seen(`timenet_nats_state_watch_events_total{host="host-2", job="p2p-gateway", event="read_restarted"}`);

  // A service down: host-2's registry stops.
  await h2.service("peer-registry").process!.stop();
  await seen(`up{host="host-2", job="peer-registry"} == 0`);
}

describe("dashboards and alert rules on a real network", () => {
  before(
    async () => {
      net = await planTestNetwork();
      work = await tempDir("prometheus-");
      configFile = join(work.path, "prometheus.yml");
      await writeFile(configFile, prometheusConfig(net));
      prom = await startPrometheus({ configFile, dataDir: join(work.path, "data") });
      await net.start();
      const expected = net.services().length;
      await waitFor(async () => (await prom!.targets()).filter((t) => t.health === "up").length === expected, {
        timeoutMs: 20_000,
        intervalMs: 250,
        message: `all ${expected} targets up`,
      });
      for (const s of net.services()) metricsTexts.set(`${s.host} ${s.job}`, await (await fetch(s.metricsUrl)).text());
      await causeTheFaults(net);
    },
    { timeout: 120_000 },
  );

  after(async () => {
    await prom?.stop();
    await net?.stop();
    await work?.remove();
  });

  it("promtool accepts the test's Prometheus configuration (the alert rules included)", async () => {
    const r = await promtool(["check", "config", configFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it("promtool check metrics finds nothing wrong in any service's /metrics", async () => {
    assert.equal(metricsTexts.size, net!.services().length);
    for (const [service, text] of metricsTexts) {
      const r = await promtool(["check", "metrics"], text);
      const problems = (r.stdout + r.stderr)
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "");
      assert.deepEqual(problems, [], `${service}: promtool check metrics`);
      assert.equal(r.code, 0, `${service}: promtool check metrics exited with ${r.code}`);
    }
  });

  it("every dashboard query (panels, nested rows, annotations, variables) parses and returns data", async () => {
    const queries = loadDashboards(join(DEPLOY, "grafana", "dashboards")).flatMap(dashboardQueries);
    assert.ok(queries.length >= 40, `only ${queries.length} queries found`);
    const problems = await evaluateAll(queries);
    assert.deepEqual(problems, [], `${problems.length} of ${queries.length} dashboard queries fail:\n${problems.join("\n")}`);
  });

  it("every alert rule parses, returns data and fires for the fault made for it", async () => {
    const rules = (await prom!.rules()).filter((r): r is Rule & { type: "alerting" } => r.type === "alerting");
    const declared = [...readFileSync(ALERTS_FILE, "utf8").matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]!);
    assert.deepEqual(rules.map((r) => r.name).sort(), [...declared].sort(), "Prometheus loaded every alert of alerts.yml");

    const problems = await evaluateAll(rules.map((r) => ({ where: `alert ${r.name}`, expr: r.query })));
    assert.deepEqual(problems, [], problems.join("\n"));

    for (const rule of rules) {
      const want = EXPECTED_ALERTS[rule.name];
      assert.ok(want, `alert ${rule.name}: no fault in this test makes it fire (add one, and its labels to EXPECTED_ALERTS)`);
      const { samples } = await query(rule.query);
      const hit = samples.some((s) => Object.entries(want).every(([k, v]) => s.metric[k] === v));
      assert.ok(hit, `alert ${rule.name} should fire with ${JSON.stringify(want)}; it returns ${JSON.stringify(samples.map((s) => s.metric))}`);
    }
    // Prometheus's own evaluation (every second) agrees: no rule errors, every alert pending or firing.
    let evaluated: Rule[] = [];
    await waitFor(
      async () => {
        evaluated = (await prom!.rules()).filter((r) => r.type === "alerting");
        return evaluated.every((r) => r.health === "ok" && r.state !== "inactive");
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    ).catch(() => undefined); // the assertions below say which rule
    for (const r of evaluated) {
      assert.equal(r.health, "ok", `alert ${r.name}: ${r.lastError}`);
      assert.notEqual(r.state, "inactive", `alert ${r.name} is inactive in Prometheus's own evaluation`);
    }
  });
});
