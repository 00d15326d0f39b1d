import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { freePort, waitFor } from "@timenet/testkit";

/** A binary from PATH or the usual system directories (Debian's `prometheus` package installs both). */
export function findBinary(name: "prometheus" | "promtool"): string {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/bin", "/usr/local/bin", "/usr/sbin"]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} not found on PATH: apt-get install -y prometheus`);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs promtool with `args`, writing `input` to its stdin (for `check metrics`). */
export function promtool(args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(findBinary("promtool"), args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

/** The JSON envelope of Prometheus's HTTP API. */
export interface ApiResponse<T> {
  status: "success" | "error";
  data?: T;
  errorType?: string;
  error?: string;
}

export interface Sample {
  metric: Record<string, string>;
  value?: [number, string];
}

export interface QueryData {
  resultType: "vector" | "matrix" | "scalar" | "string";
  result: Sample[] | [number, string];
}

export interface ScrapeTarget {
  labels: Record<string, string>;
  scrapePool: string;
  health: "up" | "down" | "unknown";
  lastError: string;
}

export interface Rule {
  type: "alerting" | "recording";
  name: string;
  query: string;
  health: string;
  lastError?: string;
  state?: "inactive" | "pending" | "firing";
}

export interface PrometheusOptions {
  configFile: string;
  dataDir: string;
  timeoutMs?: number;
}

export interface PrometheusHandle {
  readonly url: string;
  /** An instant query at the current time; a PromQL error comes back as status "error", never thrown. */
  query(expr: string): Promise<ApiResponse<QueryData>>;
  targets(): Promise<ScrapeTarget[]>;
  rules(): Promise<Rule[]>;
  stop(): Promise<void>;
}

/** Starts a real Prometheus on a free loopback port and waits until it is ready. */
export async function startPrometheus(o: PrometheusOptions): Promise<PrometheusHandle> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    findBinary("prometheus"),
    [`--config.file=${o.configFile}`, `--storage.tsdb.path=${o.dataDir}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4096)));
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  let done = false;
  void exited.then(() => (done = true));

  const get = async <T>(path: string): Promise<T> => {
    const body = (await (await fetch(`${url}${path}`)).json()) as ApiResponse<T>;
    if (body.status !== "success") throw new Error(`GET ${path}: ${body.errorType}: ${body.error}`);
    return body.data!;
  };
  const handle: PrometheusHandle = {
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query`, { method: "POST", body: new URLSearchParams({ query: expr }) });
      return (await res.json()) as ApiResponse<QueryData>;
    },
    async targets() {
      return (await get<{ activeTargets: ScrapeTarget[] }>("/api/v1/targets?state=active")).activeTargets;
    },
    async rules() {
      return (await get<{ groups: Array<{ rules: Rule[] }> }>("/api/v1/rules")).groups.flatMap((g) => g.rules);
    },
    async stop() {
      if (done) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await waitFor(
      async () => {
        if (done) throw new Error(`prometheus exited with ${String(await exited)}: ${log.trim()}`);
        try {
          return (await fetch(`${url}/-/ready`)).status === 200;
        } catch {
          return false;
        }
      },
      { timeoutMs: o.timeoutMs ?? 20_000, intervalMs: 100, message: `prometheus ready at ${url}` },
    );
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw err;
  }
  return handle;
}

/** The samples of a vector result (an empty list for anything else). */
export function samplesOf(data: QueryData | undefined): Sample[] {
  if (!data || data.resultType === "scalar" || data.resultType === "string") return data ? [{ metric: {}, value: data.result as [number, string] }] : [];
  return data.result as Sample[];
}
