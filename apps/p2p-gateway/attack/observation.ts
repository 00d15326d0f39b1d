import type { BlockReach, Reach } from "./block-reach.js";
import type { HonestNode, Scrape } from "./honest-nodes.js";
import type { LogLine } from "./log-tail.js";

export type SampleFn = (text: string, name: string, labels?: Record<string, string>) => number | undefined;

/** What the honest nodes went through during one attack (and the settle time after it). */
export interface Measured {
  /** Honest node pairs whose link closed (or was replaced). */
  honestLinksClosed: number;
  /** The honest closes, from the gateways' logs: who closed which link, why. */
  closes: string[];
  /** How the gateways answered the strangers, from their logs: sockets closed and refused at accept, by reason. */
  answered: string;
  /** Offences the registries graded against honest IPs. */
  offences: number;
  /** Bans of honest IPs (imposed, or in force at the end). */
  bans: number;
  /** The offences and bans, from the registries' logs. */
  blames: string[];
  /** Highest gateway resident memory, bytes (the kernel's peak where readable, else the highest sample). */
  rssPeak: number;
  /** Highest gateway resident memory when the attack began (what an earlier attack left behind). */
  rssAtStart: number;
  /** The node whose gateway had the peak. */
  rssNode: number;
  /** Highest event-loop delay p99 of a gateway over each GATEWAY_SCRAPE_MS, ms (a scrape that got no answer counts its wait). */
  eventLoopP99Ms: number;
  /** The node whose gateway had it. */
  eventLoopNode: number;
  /** Most scrape windows of one gateway whose p99 was at or over the budget (one or two can be the shared machine's scheduler; a loop the attack stalls shows in several). */
  eventLoopWindowsOver: number;
  /** That gateway's node, and its windows in all. */
  eventLoopWindowsNode: number;
  eventLoopWindows: number;
  /** Highest height difference between honest nodes over the samples. */
  heightSpread: number;
  /** Blocks first seen during the attack (or, if none was, the first one after it). */
  reach: Reach;
  samples: number;
  /** Metrics scrapes that got no answer in time. */
  missedScrapes: number;
}

/**
 * Gateways are scraped this far apart: prom-client's event-loop histogram
 * restarts at every scrape, so its p99 is over about 200 delay samples (10 ms
 * resolution), a p99 rather than the one slowest turn.
 */
export const GATEWAY_SCRAPE_MS = 2_000;

/** The event-loop p99 budget of one scrape window, ms (BUDGETS.eventLoopP99Ms; here to keep budgets.ts free of a cycle). */
export const EVENT_LOOP_BUDGET_MS = 100;

/** The sum of a counter over an honest peer's label, per node and peer. */
type Counters = Map<string, number>;
const pairKey = (a: number, b: number) => (a < b ? `${a}-${b}` : `${b}-${a}`);

/**
 * One attack's observation window: marks the logs, resets the gateways'
 * peak RSS, notes every honest link's connection id and disconnect count,
 * then samples every honest node's metrics until `end`, and turns all of it
 * into the budgets' figures.
 */
export class Observation {
  private readonly startedAt = performance.now();
  private attackEndedAt: number | undefined;
  private running = true;
  private readonly loop: Promise<void>;
  private samples = 0;
  private missedScrapes = 0;
  private rssPeak = 0;
  private rssNode = 0;
  private eventLoopP99Ms = 0;
  private eventLoopNode = 0;
  /** Per node: scrape windows in all, and those at or over the budget. */
  private readonly loopWindows = new Map<number, { all: number; over: number }>();
  private heightSpread = 0;
  private lastGatewayScrape = performance.now();

  private constructor(
    private readonly nodes: HonestNode[],
    private readonly reach: BlockReach,
    private readonly sample: SampleFn,
    private readonly intervalMs: number,
    private readonly connIds: Map<number, Map<string, number> | undefined>,
    private readonly closes: Counters,
    private readonly rssAtStart: number,
    private readonly trace: ((line: string) => void) | undefined,
  ) {
    this.loop = this.sampleLoop();
  }

  /** `trace`, when given, gets one line per gateway scrape (for finding when a stall happened). */
  static async begin(nodes: HonestNode[], reach: BlockReach, sample: SampleFn, intervalMs: number, trace?: (line: string) => void): Promise<Observation> {
    await Promise.all(nodes.flatMap((n) => [n.gatewayLog.mark(), n.registryLog.mark(), n.resetPeakRss()]));
    const [connIds, { closes, rss }] = await Promise.all([connectionIds(nodes), gatewayCounters(nodes, sample)]);
    return new Observation(nodes, reach, sample, intervalMs, connIds, closes, rss, trace);
  }

  /** The attack stopped sending: blocks first seen after this are not its window's. */
  attackEnded(): void {
    this.attackEndedAt = performance.now();
  }

  /**
   * Stops sampling and judges the window. When no block was made during the
   * attack (it was shorter than the block interval), the first block after
   * it is judged instead, waited for up to `blockWaitMs`: the chain must
   * still move and reach everyone.
   */
  async end(propagationBoundMs: number, blockWaitMs: number): Promise<Measured> {
    let judgeTo = this.attackEndedAt ?? performance.now();
    if (this.reach.over(this.startedAt, judgeTo, 0).blocks === 0) {
      const until = performance.now() + blockWaitMs;
      while (performance.now() < until && this.reach.over(this.startedAt, performance.now(), 0).blocks === 0) await sleep(200);
      judgeTo = performance.now();
      await sleep(propagationBoundMs + 500);
    }
    this.running = false;
    await this.loop;
    const [connIds, { closes }, peaks] = await Promise.all([connectionIds(this.nodes), gatewayCounters(this.nodes, this.sample), Promise.all(this.nodes.map((n) => n.peakRss()))]);
    this.nodes.forEach((n, i) => this.rss(n.k, peaks[i]));

    // A pair's link closed if either end counted a close of it, or its connection id changed or went.
    const closedPairs = new Set<string>();
    for (const n of this.nodes) {
      for (const m of this.nodes) {
        if (m === n) continue;
        const key = `${n.k}>${m.ip}`;
        const before = this.connIds.get(n.k)?.get(m.ip);
        const afterMap = connIds.get(n.k);
        // Compared only where the link was up at the start and the gateway answered at the end.
        const replaced = before !== undefined && afterMap !== undefined && afterMap.get(m.ip) !== before;
        if ((closes.get(key) ?? 0) > (this.closes.get(key) ?? 0) || replaced) closedPairs.add(pairKey(n.k, m.k));
      }
    }
    const honest = new Set(this.nodes.map((n) => n.ip));
    const closeLines: string[] = [];
    const strangers = { closed: new Map<string, number>(), refused: new Map<string, number>() };
    const blames: string[] = [];
    let offences = 0;
    let bans = 0;
    for (const n of this.nodes) {
      for (const l of await n.gatewayLog.lines()) {
        const stranger = !honest.has(l.peer_ip ?? "");
        if (l.msg === "connection closing" && !stranger) closeLines.push(`n${n.k} closed ${l.peer_ip}: ${str(l, "reason")} (${str(l, "initiator")}: ${str(l, "detail")})`);
        else if (l.msg === "connection closing") bump(strangers.closed, str(l, "reason"));
        else if (l.msg === "inbound connection refused at accept" && stranger) bump(strangers.refused, str(l, "reason"));
      }
      for (const l of await n.registryLog.lines()) {
        if (!honest.has(l.peer_ip ?? "")) continue;
        if (l.msg === "offence") {
          offences++;
          blames.push(`n${n.k} registry: offence ${str(l, "kind")} against ${l.peer_ip} (${str(l, "detail")})`);
        } else if (l.msg === "peer banned") {
          bans++;
          blames.push(`n${n.k} registry: banned ${l.peer_ip} (${str(l, "reason")})`);
        }
      }
    }
    // A ban still in force counts even if its log line was missed.
    for (const n of this.nodes) {
      for (const m of this.nodes) {
        if (m === n) continue;
        const j = await n.judgement(m.ip);
        if (j?.banned && !blames.some((b) => b.startsWith(`n${n.k} registry: banned ${m.ip}`))) {
          bans++;
          blames.push(`n${n.k} registry: ${m.ip} is banned (${j.banReason})`);
        }
      }
    }
    return {
      honestLinksClosed: closedPairs.size,
      closes: closeLines,
      answered: `closed ${tally(strangers.closed)}; refused at accept ${tally(strangers.refused)}`,
      offences,
      bans,
      blames,
      rssPeak: this.rssPeak,
      rssAtStart: this.rssAtStart,
      rssNode: this.rssNode,
      eventLoopP99Ms: this.eventLoopP99Ms,
      eventLoopNode: this.eventLoopNode,
      ...this.windowsOver(),
      heightSpread: this.heightSpread,
      reach: this.reach.over(this.startedAt, judgeTo, propagationBoundMs),
      samples: this.samples,
      missedScrapes: this.missedScrapes,
    };
  }

  private async sampleLoop(): Promise<void> {
    while (this.running) {
      const next = performance.now() + this.intervalMs;
      await this.takeSample();
      const wait = next - performance.now();
      if (wait > 0 && this.running) await sleep(wait);
    }
  }

  private async takeSample(): Promise<void> {
    const gateways = performance.now() - this.lastGatewayScrape >= GATEWAY_SCRAPE_MS;
    if (gateways) this.lastGatewayScrape = performance.now();
    const got = await Promise.all(this.nodes.map(async (n) => ({ k: n.k, gw: gateways ? await n.gatewayMetrics() : undefined, store: await n.storeMetrics() })));
    this.samples++;
    const heights: number[] = [];
    for (const { k, gw, store } of got) {
      if (gw) this.gatewayFigures(k, gw);
      const h = this.sample(store.text, "timenet_store_height");
      if (h !== undefined) heights.push(h);
      else this.missedScrapes++;
    }
    if (heights.length === this.nodes.length) this.heightSpread = Math.max(this.heightSpread, Math.max(...heights) - Math.min(...heights));
  }

  private gatewayFigures(k: number, gw: Scrape): void {
    const at = `${((performance.now() - this.startedAt) / 1000).toFixed(1)} s`;
    if (!gw.ok) {
      // No answer in time: the gateway's loop was stalled at least this long.
      this.missedScrapes++;
      this.trace?.(`  ${at} n${k} gateway: no answer within ${Math.round(gw.ms)} ms`);
      return this.eventLoop(k, gw.ms);
    }
    const rss = this.sample(gw.text, "process_resident_memory_bytes");
    const p99 = this.sample(gw.text, "nodejs_eventloop_lag_p99_seconds");
    const max = this.sample(gw.text, "nodejs_eventloop_lag_max_seconds");
    const cpu = this.sample(gw.text, "process_cpu_seconds_total");
    this.trace?.(`  ${at} n${k} gateway: loop p99 ${ms(p99)} max ${ms(max)}, rss ${Math.round((rss ?? 0) / 1048576)} MiB, cpu ${cpu?.toFixed(1)} s, scrape ${Math.round(gw.ms)} ms`);
    this.rss(k, rss);
    if (p99 !== undefined) this.eventLoop(k, p99 * 1000);
  }

  private rss(k: number, bytes: number | undefined): void {
    if (bytes === undefined || bytes <= this.rssPeak) return;
    this.rssPeak = bytes;
    this.rssNode = k;
  }

  private windowsOver(): { eventLoopWindowsOver: number; eventLoopWindowsNode: number; eventLoopWindows: number } {
    let worst = { eventLoopWindowsOver: 0, eventLoopWindowsNode: 0, eventLoopWindows: 0 };
    for (const [k, w] of this.loopWindows) {
      if (w.over > worst.eventLoopWindowsOver) worst = { eventLoopWindowsOver: w.over, eventLoopWindowsNode: k, eventLoopWindows: w.all };
    }
    return worst;
  }

  private eventLoop(k: number, ms: number): void {
    const w = this.loopWindows.get(k) ?? { all: 0, over: 0 };
    w.all++;
    if (ms >= EVENT_LOOP_BUDGET_MS) w.over++;
    this.loopWindows.set(k, w);
    if (ms <= this.eventLoopP99Ms) return;
    this.eventLoopP99Ms = ms;
    this.eventLoopNode = k;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ms = (seconds: number | undefined) => (seconds === undefined ? "?" : `${Math.round(seconds * 1000)} ms`);

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

/** "12 (reason 8, other 4)", biggest first. */
function tally(m: Map<string, number>): string {
  const total = [...m.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return "0";
  return `${total} (${[...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ")})`;
}

function str(l: LogLine, field: string): string {
  const v = l[field];
  return typeof v === "string" ? v : JSON.stringify(v);
}

async function connectionIds(nodes: HonestNode[]): Promise<Map<number, Map<string, number> | undefined>> {
  return new Map(await Promise.all(nodes.map(async (n) => [n.k, await n.connections()] as const)));
}

/** Each gateway's disconnect count for each honest peer (the `peer` label names allow-listed peers), and the highest RSS. */
async function gatewayCounters(nodes: HonestNode[], sample: SampleFn): Promise<{ closes: Counters; rss: number }> {
  const closes: Counters = new Map();
  let rss = 0;
  await Promise.all(
    nodes.map(async (n) => {
      const text = (await n.gatewayMetrics()).text;
      rss = Math.max(rss, sample(text, "process_resident_memory_bytes") ?? 0);
      for (const m of nodes) if (m !== n) closes.set(`${n.k}>${m.ip}`, sample(text, "timenet_gateway_disconnects_total", { peer: m.ip }) ?? 0);
    }),
  );
  return { closes, rss };
}
