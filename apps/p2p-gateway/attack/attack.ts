// What one attack is: a name, what it does, how many /24s and threads it
// needs, and a run that sends until its deadline or byte bound (its context
// counts what it sent and closes its sockets afterwards). The runner gives every attack fresh /24s (an earlier attack's
// bans must not hide a later one) and measures the honest nodes meanwhile.
import type { PeerEndpoint } from "@timenet/net-address";
import type { AttackContext } from "./attack-context.js";

/** What an attack sent, summed over its threads. */
export interface Sent {
  /** Bytes handed to attacker sockets (Noise overhead and handshakes included). */
  bytes: number;
  /** TCP connections that opened. */
  sockets: number;
  /** Connections refused or reset before we sent anything (the gateway's accept-time refusals among them). */
  refused: number;
  /** Noise handshakes (their Hellos in them) completed (the attacker became a peer, unless its Hello was refused). */
  handshakes: number;
  /** Frames (or raw junk writes, before the channel) sent. */
  frames: number;
}

export const emptySent = (): Sent => ({ bytes: 0, sockets: 0, refused: 0, handshakes: 0, frames: 0 });

export function addSent(a: Sent, b: Sent): Sent {
  return { bytes: a.bytes + b.bytes, sockets: a.sockets + b.sockets, refused: a.refused + b.refused, handshakes: a.handshakes + b.handshakes, frames: a.frames + b.frames };
}

/** What an attack's own clients saw, by name, summed over its threads (an honest newcomer's tries and successes...). */
export type Tally = Record<string, number>;

export function addTally(a: Readonly<Tally>, b: Readonly<Tally>): Tally {
  const out: Tally = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** One /24 the attacker may use: hosts `${prefix}.1` … `${prefix}.254`. */
export interface Subnet {
  prefix: string;
}

/** What the runner hands one thread of an attack (plain data: it crosses into a worker). */
export interface AttackSetup {
  /** The gateways under attack (the victims), as peers dial them. */
  targets: PeerEndpoint[];
  /** Every honest node's IP (peer exchange names them). */
  honestIps: string[];
  /** The /24s of this thread: never an honest node's, never one an earlier attack used. */
  subnets: Subnet[];
  /** Stop by this time (Date.now() ms). */
  deadline: number;
  /** This thread's share of the attack's byte bound. */
  maxBytes: number;
}

export interface Attack {
  name: string;
  /** One line: what it sends and from where. */
  description: string;
  /** /24s it needs (split among its threads). */
  subnets: number;
  /** Worker threads it runs in (default 1): more where one thread cannot send at full rate. */
  threads?: number;
  /** Sends until the deadline or the byte bound (the context closes whatever it left open). */
  run(ctx: AttackContext): Promise<void>;
  /**
   * An honest client beside the attack (a newcomer trying to connect...), in
   * a worker of its own at normal priority, from `probeSubnets` /24s of its
   * own: an honest peer's CPU is its own host's, so the attacker's nice-19
   * threads must not slow it. It counts what it saw into the tally.
   */
  probe?(ctx: AttackContext): Promise<void>;
  probeSubnets?: number;
  /**
   * Checks of its own, on the victims after the attack (beside the budgets every attack is held to):
   * one line per check that failed, and one line of what it saw (printed). Runs in the runner, never in the attack's workers;
   * `tally` is what the attack's own clients counted (AttackContext.count).
   */
  verify?(victims: readonly VictimScrapes[], sample: MetricSample, tally: Readonly<Tally>): { broken: string[]; seen: string };
}

/** One victim's metrics, scraped after the attack, and just before it (`before`: what the suite's earlier rows left). */
export interface VictimScrapes {
  node: number;
  gateway: string;
  registry: string;
  before: { gateway: string; registry: string };
}

/** A sample's value in a Prometheus text exposition (summed over series matching `labels`); undefined when absent. */
export type MetricSample = (text: string, name: string, labels?: Record<string, string>) => number | undefined;

/** A counter's increase on one victim during the attack (its scrape after minus before): the suite's earlier rows counted too. */
export function increase(sample: MetricSample, v: VictimScrapes, service: "gateway" | "registry", name: string, labels?: Record<string, string>): number {
  return (sample(v[service], name, labels) ?? 0) - (sample(v.before[service], name, labels) ?? 0);
}
