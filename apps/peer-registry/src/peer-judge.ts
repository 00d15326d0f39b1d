import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { AdmissionPolicySchema, enumLabel, OffenceKindSchema, PeerSource, SeveritySchema, type AdmissionPolicy, type Offence, type Peer } from "@timenet/proto";
import type { PeerIp } from "@timenet/net-address";
import { TypedEvents, type ListenerErrorHandler } from "@timenet/events";
import type { Logger } from "@timenet/telemetry";
import type { RegistryMetrics } from "./metrics.js";
import type { ScorePolicy } from "./options.js";
import { isBanned, type PeerRecords } from "./peer-records.js";
import { clipText, LOG_TEXT_LIMIT, POLICY_REASON_LIMIT } from "./peer-strings.js";
import { banDurationMs, decayedScore, gradeOf, penaltyFor } from "./scoring.js";

export type PeerJudgeEvents = {
  /** Bans or the allow-list changed: the admission policy must be published again. */
  policyChanged: () => void;
  banned: (ip: PeerIp) => void;
};

export interface PeerJudgeOptions {
  records: PeerRecords;
  metrics: RegistryMetrics;
  logger: Logger;
  /** Where a throwing listener of this unit\'s events is reported (counted and logged). */
  onListenerError: ListenerErrorHandler;
  score: ScorePolicy;
  /** Bans in force at once; beyond, the ban ending soonest is lifted (an offender's before an operator's). */
  maxBans: number;
  /** The admission limits the gateway enforces on strangers. */
  limits: { maxInbound: number; maxPerSubnet: number; subnetPrefixV4: number; subnetPrefixV6: number };
  /** When a new IP may first be dialled (the dial planner's rule), for records the judge creates. */
  firstDialAt: (ip: string, now: number) => number;
  /** This run's admission-policy epoch (AdmissionPolicy.epoch). Default: start time and 8 random hex digits, new per run. */
  epoch?: string;
}

export type BanLiftedWhy = "expired" | "operator" | "allow_listed" | "evicted";

/**
 * The only judge of peers: grades offences by kind (scoring.ts holds the one
 * table), keeps each IP's decaying score, bans at the threshold (durations
 * doubling per ban), lifts bans when they lapse or an operator says so, and
 * makes the admission policy the gateway enforces (bans, allow-list, inbound
 * limits). Owns each record's score, ban and allow-list fields.
 *
 * At most `maxBans` bans are in force (Bitcoin Core bounds its list of
 * misbehaving addresses the same way): a banned record is never evicted
 * from the book, and the policy lists every ban, so without a bound an
 * attacker with many addresses would grow both without end. A new ban beyond
 * it first lifts the ban that ends soonest, an offender's before an
 * operator's (`evicted`). That IP keeps its score and ban count: its next
 * offence bans it again, for twice as long.
 */
export class PeerJudge {
  readonly events: TypedEvents<PeerJudgeEvents>;
  /**
   * The admission policy's epoch and version: a new epoch per run, versions
   * from 1 within it, so nothing a previous run (or its clock) wrote can keep
   * a later run's policy from a gateway.
   */
  readonly epoch: string;
  private version = 1n;

  constructor(private readonly o: PeerJudgeOptions) {
    this.events = new TypedEvents<PeerJudgeEvents>(o.onListenerError);
    this.epoch = o.epoch ?? `${Date.now()}-${randomBytes(4).toString("hex")}`;
  }

  /** This run's allow-list: allow-listed IPs override automatic bans (an operator's ban stands). */
  applyAllowList(allow: readonly PeerIp[], now: number): void {
    const wanted = new Set(allow);
    for (const p of this.o.records.all()) {
      if (p.allowListed && !wanted.has(p.ip as PeerIp)) {
        p.allowListed = false;
        this.o.records.save(p, now);
      }
    }
    for (const ip of wanted) {
      const p = this.o.records.getOrCreate(ip, PeerSource.CONFIG, now, { nextDialMs: this.o.firstDialAt(ip, now), evenIfFull: true })!;
      p.allowListed = true;
      if (p.banUntilMs > 0n && !p.banReason.startsWith("operator")) this.liftBan(p, "allow_listed", now);
      this.o.records.save(p, now);
    }
  }

  /** Grades an offence; returns true if it led to a ban. */
  onOffence(off: Offence, now: number): boolean {
    const ip = off.ip as PeerIp;
    const kind = enumLabel(OffenceKindSchema, off.kind);
    const grade = gradeOf(off.kind);
    const severity = enumLabel(SeveritySchema, grade);
    this.o.metrics.offences.inc({ kind, severity });
    const p = this.o.records.getOrCreate(ip, PeerSource.INBOUND, now, { nextDialMs: this.o.firstDialAt(ip, now), evenIfFull: true })!;
    const penalty = penaltyFor(grade, this.o.score);
    let score = decayedScore(p.score, Number(p.scoreAtMs), now, this.o.score.halfLifeMs);
    score = penalty === "ban" ? Math.min(score, this.o.score.banThreshold) : score - penalty;
    p.score = score;
    p.scoreAtMs = BigInt(now);
    const shouldBan = score <= this.o.score.banThreshold;
    this.o.logger.warn({ peer_ip: ip, kind, severity, score: Math.round(score), detail: clipText(off.detail, LOG_TEXT_LIMIT) }, "offence");
    let banned = false;
    if (shouldBan && p.allowListed) {
      this.o.logger.warn({ peer_ip: ip, kind, score: Math.round(score) }, "allow-listed peer is never banned automatically");
    } else if (shouldBan && !isBanned(p, now)) {
      this.imposeBan(p, banDurationMs(p.banCount, this.o.score), kind, now);
      banned = true;
    }
    this.o.records.save(p, now);
    return banned;
  }

  /** An operator's ban (allow-listed peers included). */
  ban(ip: PeerIp, durationMs: number, reason: string, now: number): Peer {
    const p = this.o.records.getOrCreate(ip, PeerSource.OPERATOR, now, { nextDialMs: this.o.firstDialAt(ip, now), evenIfFull: true })!;
    this.imposeBan(p, durationMs > 0 ? durationMs : banDurationMs(p.banCount, this.o.score), `operator${reason ? `: ${reason}` : ""}`, now);
    this.o.records.save(p, now);
    return p;
  }

  unban(ip: PeerIp, now: number): Peer | undefined {
    const p = this.o.records.get(ip);
    if (!p) return undefined;
    if (p.banUntilMs > 0n) this.liftBan(p, "operator", now);
    this.o.records.save(p, now);
    return p;
  }

  /** Lifts the bans that have lapsed, and any beyond maxBans. */
  tick(now: number): void {
    for (const p of this.o.records.all()) {
      if (p.banUntilMs > 0n && Number(p.banUntilMs) <= now) {
        this.liftBan(p, "expired", now);
        this.o.records.save(p, now);
      }
    }
    this.makeRoomForBans(this.o.maxBans, now);
  }

  /** The admission policy the gateway enforces. */
  policy(now: number): AdmissionPolicy {
    const records = [...this.o.records.all()];
    return create(AdmissionPolicySchema, {
      bans: this.bansInForce(now).map((p) => ({ ip: p.ip, untilMs: p.banUntilMs, reason: clipText(p.banReason, POLICY_REASON_LIMIT) })),
      allowList: records.filter((p) => p.allowListed).map((p) => p.ip),
      ...this.o.limits,
      version: this.version,
      epoch: this.epoch,
      issuedAtMs: BigInt(now),
    });
  }

  private imposeBan(p: Peer, durationMs: number, reason: string, now: number): void {
    if (!isBanned(p, now)) this.makeRoomForBans(this.o.maxBans - 1, now);
    p.banUntilMs = BigInt(now + durationMs);
    p.banReason = reason;
    p.banCount++;
    const label = reason.startsWith("operator") ? "operator" : reason;
    this.o.metrics.bans.inc({ reason: label });
    this.o.logger.warn({ peer_ip: p.ip, reason: label, detail: reason, duration_ms: durationMs, bans: p.banCount }, "peer banned");
    this.events.emit("banned", p.ip as PeerIp);
    this.changed();
  }

  /**
   * Lifts bans, the one ending soonest first and offenders' before
   * operators', until at most `keep` are in force (called with maxBans - 1
   * before a new ban, and with maxBans at each tick: a book stored under a
   * higher MAX_BANS is brought down at the first).
   */
  private makeRoomForBans(keep: number, now: number): void {
    const banned = this.bansInForce(now);
    if (banned.length <= keep) return;
    const operator = (p: Peer) => (p.banReason.startsWith("operator") ? 1 : 0);
    banned.sort((a, b) => operator(a) - operator(b) || Number(a.banUntilMs - b.banUntilMs));
    for (const p of banned.slice(0, banned.length - keep)) {
      this.o.logger.warn({ peer_ip: p.ip, ban_reason: clipText(p.banReason, LOG_TEXT_LIMIT), ban_until_ms: Number(p.banUntilMs), max_bans: this.o.maxBans }, "ban list full: the ban ending soonest is lifted early");
      this.liftBan(p, "evicted", now);
      this.o.records.save(p, now);
    }
  }

  /** The records banned at `now` (one walk of the book, no copy of it: the tick calls this every second). */
  private bansInForce(now: number): Peer[] {
    const banned: Peer[] = [];
    for (const p of this.o.records.all()) if (isBanned(p, now)) banned.push(p);
    return banned;
  }

  private liftBan(p: Peer, why: BanLiftedWhy, now: number): void {
    p.banUntilMs = 0n;
    p.banReason = "";
    // An evicted offender keeps its score (decaying as ever) and is not dialled sooner: it did not earn a clean slate
    // (makeRoomForBans logs its own warning for it).
    if (why !== "evicted") {
      p.score = 0;
      p.scoreAtMs = BigInt(now);
      p.nextDialMs = BigInt(now);
      this.o.logger.info({ peer_ip: p.ip, reason: why }, "ban lifted");
    }
    this.o.metrics.unbans.inc({ reason: why });
    this.changed();
  }

  private changed(): void {
    this.version++;
    this.events.emit("policyChanged");
  }
}
