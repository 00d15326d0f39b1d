import { AdmissionPolicySchema, StateKeys } from "@timenet/proto";
import type { StateBucket } from "@timenet/bus";
import type { Logger } from "@timenet/telemetry";
import type { RegistryMetrics } from "./metrics.js";
import type { PeerJudge } from "./peer-judge.js";

export interface AdmissionPublisherOptions {
  bucket: StateBucket;
  judge: PeerJudge;
  metrics: RegistryMetrics;
  logger: Logger;
  /** Pause before a failed write is tried again. Default 1 s. */
  retryMs?: number;
  /** Least time between the starts of two writes; changes meanwhile go out together in the next. Default 0. */
  minIntervalMs?: number;
}

/**
 * Publishes the judge's admission policy as state (bucket REGISTRY_ADMISSION,
 * key `policy`) for the gateway to watch: after every change, coalesced within
 * one turn of the event loop and to one write per `minIntervalMs` (each
 * write is the whole policy as it is then), and retried until NATS takes it. The stored
 * policy outlives both processes, so a gateway that starts while the registry
 * is down still enforces the last bans.
 */
export class AdmissionPublisher {
  private queued = false;
  private writing: Promise<void> | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private spaced: NodeJS.Timeout | undefined;
  /** When the last write began (performance.now()). */
  private lastWriteAt = -Infinity;

  constructor(private readonly o: AdmissionPublisherOptions) {}

  /** Writes the current policy: a new epoch replaces whatever a previous run stored, whatever its version. */
  async start(): Promise<void> {
    this.writing = this.write();
    await this.writing;
  }

  publishSoon(): void {
    if (this.queued || this.stopped) return;
    this.queued = true;
    const go = () => {
      if (this.stopped) return; // stop() writes what is queued
      this.queued = false;
      this.writing = this.write();
    };
    const waitMs = this.lastWriteAt + (this.o.minIntervalMs ?? 0) - performance.now();
    if (waitMs > 0) this.spaced = setTimeout(go, waitMs);
    else setImmediate(go);
  }

  /** Waits for the write in flight; changes still waiting for their spacing are written now, once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    clearTimeout(this.spaced);
    await this.writing;
    if (!this.queued) return;
    this.queued = false;
    this.writing = this.write();
    await this.writing;
  }

  private async write(): Promise<void> {
    this.lastWriteAt = performance.now();
    try {
      await this.o.bucket.put(StateKeys.admissionPolicy, AdmissionPolicySchema, this.o.judge.policy(Date.now()));
      this.o.metrics.policyPublishes.inc({ result: "ok" });
    } catch (err) {
      this.o.metrics.policyPublishes.inc({ result: "error" });
      this.o.logger.warn({ err: (err as Error).message }, "cannot write the admission policy; retrying");
      if (!this.stopped) this.retry = setTimeout(() => this.publishSoon(), this.o.retryMs ?? 1_000);
    }
  }
}
