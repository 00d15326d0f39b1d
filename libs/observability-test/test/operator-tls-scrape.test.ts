// The shipped central Prometheus config (deploy/prometheus/fleet.yml) scrapes a
// real peer-registry whose metrics serve operator TLS: a real Prometheus with
// the config's tls_config (tls/ next to it) finds the target up, while the
// same /metrics refuses a client without the cert. Listeners on 127.0.3.40.
import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { get } from "node:https";
import { join } from "node:path";
import { writeOperatorCa, writeOperatorCert } from "@timenet/operator-tls";
import { freePort, startNatsServer, startServiceProcess, tempDir, waitFor, type NatsServerHandle, type ServiceProcess } from "@timenet/testkit";
import { startPrometheus, type PrometheusHandle } from "../src/prometheus.js";
import { DEPLOY, ROOT } from "./network.js";

const IP = "127.0.3.40";
// fleet.yml picks each job's targets by the port plan's port.
const REGISTRY_METRICS = 9102;

let work: Awaited<ReturnType<typeof tempDir>>;
let nats: NatsServerHandle | undefined;
let registry: ServiceProcess | undefined;
let prom: PrometheusHandle | undefined;
let ca: Buffer;

function status(url: string, o: { ca: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => get(url, { ca: o.ca, agent: false }, (r) => (r.resume(), resolve(r.statusCode ?? 0))).once("error", reject));
}

before(
  async () => {
    work = await tempDir("prometheus-tls-");
    const caDir = join(work.path, "ca");
    await writeOperatorCa(caDir);
    await writeOperatorCert(caDir, join(work.path, "host"), { name: "host-1", ips: [IP] });
    const promDir = join(work.path, "prometheus");
    cpSync(join(DEPLOY, "prometheus"), promDir, { recursive: true, filter: (src) => !src.startsWith(join(DEPLOY, "prometheus", "tls")) });
    await writeOperatorCert(caDir, join(promDir, "tls"), { name: "prometheus" });
    writeFileSync(join(promDir, "fleet-targets.json"), JSON.stringify([{ targets: [`${IP}:${REGISTRY_METRICS}`], labels: { host: "host-1" } }]));
    ca = readFileSync(join(caDir, "ca.crt"));
    nats = await startNatsServer({ jetstream: true });
    const url = `https://${IP}:${REGISTRY_METRICS}/readyz`;
    registry = await startServiceProcess({
      main: join(ROOT, "apps", "peer-registry", "dist/src/main.js"),
      env: {
        NATS_URL: nats.url,
        REGISTRY_DB_PATH: join(work.path, "db"),
        GRPC_HOST: IP,
        GRPC_PORT: String(await freePort(IP)),
        METRICS_HOST: IP,
        METRICS_PORT: String(REGISTRY_METRICS),
        OPERATOR_TLS_DIR: join(work.path, "host"),
        PUBLIC_IP: IP,
        LOG_LEVEL: "warn",
      },
      readyUrl: url,
      readyCheck: async () => (await status(url, { ca }).catch(() => 0)) === 200,
    });
    prom = await startPrometheus({ configFile: join(promDir, "fleet.yml"), dataDir: join(work.path, "data") });
  },
  { timeout: 60_000 },
);

after(async () => {
  await prom?.stop();
  await registry?.stop();
  await nats?.stop();
  await work?.remove();
});

it("fleet.yml's tls_config scrapes /metrics over mutual TLS; without a client cert it is 403", async () => {
  assert.equal(await status(`https://${IP}:${REGISTRY_METRICS}/metrics`, { ca }), 403);
  const target = await waitFor(
    async () => (await prom!.targets()).find((t) => t.scrapePool === "peer-registry" && t.health !== "unknown"),
    { timeoutMs: 30_000, intervalMs: 250, message: "peer-registry scraped" },
  );
  assert.equal(target.lastError, "");
  assert.equal(target.health, "up");
  assert.equal(target.labels.host, "host-1");
});
