import { create } from "@bufbuild/protobuf";
import { PeerAddressSchema, PeerSource, type PeerAddress } from "@timenet/proto";
import { isPublicIp, isValidIp, normalizeIp, type PeerIp } from "@timenet/net-address";
import type { Rate } from "@timenet/rate-limit";
import type { Logger } from "@timenet/telemetry";
import type { RegistryMetrics } from "./metrics.js";
import { isBanned, type PeerRecords } from "./peer-records.js";
import { SourceBudgets } from "./source-budgets.js";

export type CandidateResult = "accepted" | "known" | "invalid" | "private" | "self" | "rate_limited" | "book_full" | "unknown_source";

export interface PeerAddressesOptions {
  records: PeerRecords;
  metrics: RegistryMetrics;
  logger: Logger;
  publicIp: PeerIp | undefined;
  /** Addresses per Peers answer, sent or read. */
  max: number;
  /** Only peers seen within this are shared. */
  maxAgeMs: number;
  /** New candidates accepted from one source peer. */
  candidateRate: Rate;
  /** Source peers whose budget is remembered. */
  maxSources: number;
  /** When a new IP may first be dialled (the dial planner's rule). */
  firstDialAt: (ip: string, now: number) => number;
}

/**
 * The addresses side of peer exchange, on an explicit clock: which peers we
 * tell others about (ones we have really been connected to, recently, never
 * banned, never private ones to a public peer), and which addresses we take
 * from others as dial candidates (a bounded number per source peer, so one
 * peer cannot flood the book). A source's budget is keyed by its IP and kept
 * apart from its book entry: reconnecting, or leaving the book and coming
 * back, does not refill it.
 *
 * An address taken is a third party's claim: the record it creates is
 * unverified (see `isUnverified`) until a handshake with that IP completes,
 * and a claim never changes an entry the book already holds, whose port is
 * the peer's own word (its Hello), the operator's, or an earlier claim.
 */
export class PeerAddresses {
  private readonly budgets: SourceBudgets;

  constructor(private readonly o: PeerAddressesOptions) {
    this.budgets = new SourceBudgets({ rate: o.candidateRate, maxSources: o.maxSources, onSize: (n) => o.metrics.exchangeSources.set(n) });
  }

  /** Up to `max` good peers to tell `forIp` about. */
  share(forIp: PeerIp, max: number, now: number): PeerAddress[] {
    const toPublic = isPublicIp(forIp);
    return [...this.o.records.all()]
      .filter(
        (p) =>
          p.ip !== forIp &&
          !p.isSelf &&
          p.port !== 0 &&
          p.totalConnections > 0 &&
          !isBanned(p, now) &&
          (p.connId !== 0 || now - Number(p.lastSeenMs) <= this.o.maxAgeMs) &&
          (!toPublic || isPublicIp(p.ip)),
      )
      .sort((x, y) => Number(y.connId !== 0) - Number(x.connId !== 0) || Number(y.lastSeenMs - x.lastSeenMs))
      .slice(0, Math.min(max, this.o.max))
      .map((p) => create(PeerAddressSchema, { ip: p.ip, port: p.port, lastSeenMs: p.connId !== 0 ? BigInt(now) : p.lastSeenMs }));
  }

  /** Takes the addresses a peer sent as dial candidates; returns how many of each result. */
  ingest(from: PeerIp, addrs: readonly PeerAddress[], now: number): Partial<Record<CandidateResult, number>> {
    const tally: Partial<Record<CandidateResult, number>> = {};
    const count = (result: CandidateResult, n = 1) => {
      this.o.metrics.candidates.inc({ result }, n);
      tally[result] = (tally[result] ?? 0) + n;
    };
    const read = addrs.slice(0, this.o.max);
    if (addrs.length > read.length) count("rate_limited", addrs.length - read.length);
    // Only a peer we hold a connection record of may tell us anything.
    if (!this.o.records.has(from)) {
      if (read.length > 0) count("unknown_source", read.length);
      return tally;
    }
    const fromPublic = isPublicIp(from);
    for (const a of read) {
      if (!isValidIp(a.ip)) count("invalid");
      else {
        const ip = normalizeIp(a.ip);
        if (ip === from || this.o.records.has(ip)) count("known");
        else if (!this.budgets.take(from, now)) count("rate_limited");
        else count(this.addCandidate(ip, a.port, fromPublic, now));
      }
    }
    if (tally.accepted) this.o.logger.info({ peer_ip: from, ...tally }, "learned peers from peer exchange (unverified until a handshake)");
    return tally;
  }

  private addCandidate(ip: PeerIp, port: number, fromPublic: boolean, now: number): CandidateResult {
    if (port === 0 || port > 65535) return "invalid";
    if (ip === this.o.publicIp) return "self";
    if (fromPublic && !isPublicIp(ip)) return "private";
    const p = this.o.records.getOrCreate(ip, PeerSource.PEER_EXCHANGE, now, { nextDialMs: this.o.firstDialAt(ip, now) });
    if (!p) return "book_full";
    p.port = port;
    this.o.records.save(p, now);
    return "accepted";
  }
}
