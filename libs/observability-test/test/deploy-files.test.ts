// Static checks of deploy/prometheus and deploy/grafana (no processes): the
// files promtool and Grafana load, and their consistency with each other.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeOperatorCa, writeOperatorCert } from "@timenet/operator-tls";
import { tempDir } from "@timenet/testkit";
import { allPanels, dashboardQueries, loadDashboards, variablesIn } from "../src/dashboards.js";
import { promtool } from "../src/prometheus.js";
import { DEPLOY, JOBS } from "./network.js";

const PROM = join(DEPLOY, "prometheus");
const GRAFANA = join(DEPLOY, "grafana");
const dashboards = loadDashboards(join(GRAFANA, "dashboards"));
/** Variables a dashboard may use: its own, and Grafana's built-in intervals. */
const KNOWN_VARIABLES = new Set(["host", "__rate_interval", "__interval", "__range"]);

function datasourceUid(): string {
  const m = /^\s*uid:\s*(\S+)\s*$/m.exec(readFileSync(join(GRAFANA, "provisioning", "datasources", "prometheus.yml"), "utf8"));
  assert.ok(m, "the provisioned datasource has a uid");
  return m[1]!;
}

function jobNames(file: string): string[] {
  return [...readFileSync(join(PROM, file), "utf8").matchAll(/^\s*- job_name:\s*(\S+)/gm)].map((m) => m[1]!);
}

/**
 * deploy/prometheus copied with a real TLS directory at tls/ (as Compose mounts
 * it): promtool checks that every tls_config file exists.
 */
async function withOperatorTls<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const work = await tempDir("prometheus-config-");
  try {
    const dir = join(work.path, "prometheus");
    cpSync(PROM, dir, { recursive: true, filter: (src) => !src.startsWith(join(PROM, "tls")) });
    await writeOperatorCa(join(work.path, "ca"));
    await writeOperatorCert(join(work.path, "ca"), join(dir, "tls"), { name: "prometheus" });
    return await body(dir);
  } finally {
    await work.remove();
  }
}

describe("deploy/prometheus", () => {
  for (const file of ["prometheus.yml", "fleet.yml"]) {
    it(`promtool check config ${file} (its rule files, file_sd and TLS files included)`, async () => {
      const r = await withOperatorTls((dir) => promtool(["check", "config", join(dir, file)]));
      assert.equal(r.code, 0, r.stdout + r.stderr);
    });

    it(`${file} scrapes every job over HTTPS with the operator TLS directory at tls/`, () => {
      const text = readFileSync(join(PROM, file), "utf8");
      const jobs = text.split(/^\s*- job_name:/m).slice(1);
      assert.equal(jobs.length, JOBS.length);
      for (const job of jobs) assert.match(job, /^\s*scheme: https$/m, job.split("\n")[0]);
      assert.match(text, /ca_file: tls\/ca\.crt\n\s*cert_file: tls\/tls\.crt\n\s*key_file: tls\/tls\.key/);
    });

    it(`${file} has one job per service, named as the dashboards and alerts expect`, () => {
      assert.deepEqual(jobNames(file).sort(), [...JOBS].sort());
    });
  }

  it("promtool check rules alerts.yml", async () => {
    const r = await promtool(["check", "rules", join(PROM, "alerts.yml")]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it("fleet-targets.json names host-1..host-6 with the port plan's metrics ports", () => {
    const groups = JSON.parse(readFileSync(join(PROM, "fleet-targets.json"), "utf8")) as Array<{ targets: string[]; labels: { host: string } }>;
    assert.deepEqual(
      groups.map((g) => g.labels.host),
      ["host-1", "host-2", "host-3", "host-4", "host-5", "host-6"],
    );
    for (const g of groups) {
      const ips = new Set(g.targets.map((t) => t.split(":")[0]));
      assert.equal(ips.size, 1, `${g.labels.host}: one address`);
      const ports = g.targets.map((t) => Number(t.split(":")[1]));
      // 9105 (block-producer) only where a producer runs.
      assert.deepEqual(ports.filter((p) => p !== 9105), [9101, 9102, 9103, 9104], `${g.labels.host}: ports`);
    }
  });
});

describe("deploy/grafana", () => {
  const uid = datasourceUid();

  it("has the three dashboards, each with its own uid, Grafana schema 38 or later", () => {
    assert.deepEqual(
      dashboards.map((d) => d.file),
      ["chain.json", "network.json", "services.json"],
    );
    assert.equal(new Set(dashboards.map((d) => d.dashboard.uid)).size, dashboards.length);
    for (const { file, dashboard } of dashboards) assert.ok(dashboard.schemaVersion >= 38, `${file}: schemaVersion ${dashboard.schemaVersion}`);
  });

  for (const d of dashboards) {
    it(`${d.file}: unique panel ids; every query names the provisioned datasource by uid; refIds unique per panel`, () => {
      const panels = allPanels(d.dashboard.panels);
      const ids = panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, "panel ids are unique");
      for (const p of panels) {
        if (p.type === "row") continue;
        assert.equal(p.datasource?.uid, uid, `panel ${p.id} "${p.title}" datasource`);
        assert.ok((p.targets ?? []).length > 0, `panel ${p.id} "${p.title}" has queries`);
        const refIds = (p.targets ?? []).map((t) => t.refId);
        assert.equal(new Set(refIds).size, refIds.length, `panel ${p.id} refIds`);
      }
      for (const q of dashboardQueries(d)) {
        assert.equal(q.datasource?.uid, uid, `${q.where} datasource`);
        assert.ok(q.expr.trim(), `${q.where} has an expression`);
        const unknown = variablesIn(q.expr).filter((v) => !KNOWN_VARIABLES.has(v));
        assert.deepEqual(unknown, [], `${q.where}: unknown variables`);
      }
    });
  }

  it("the dashboards provider loads the JSON files from a directory", () => {
    const text = readFileSync(join(GRAFANA, "provisioning", "dashboards", "timenet.yml"), "utf8");
    assert.match(text, /type: file/);
    assert.match(text, /path: \/\S+/);
  });
});
