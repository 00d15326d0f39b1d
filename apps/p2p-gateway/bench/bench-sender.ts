// What a bench sender does, in the main thread or in the peer's worker: the
// payloads (sequence number and send time) and the two sending patterns.
import { setTimeout as sleep } from "node:timers/promises";

export interface SendPlan {
  phase: "throughput" | "paced";
  count: number;
  startSeq: number;
  size: number;
  /** Sends per turn in the throughput phase (NATS hands bursts to one callback). */
  burst: number;
}

/** Payload: 8-byte sequence + 8-byte send time (ns), padded; unique per frame so relay-once dedup does not drop it. */
export function payload(seq: number, size: number): Uint8Array {
  const b = Buffer.alloc(size);
  b.writeBigUInt64BE(BigInt(seq), 0);
  b.writeBigUInt64BE(process.hrtime.bigint(), 8);
  return b;
}

export function sentAt(data: Uint8Array): bigint {
  return Buffer.from(data.buffer, data.byteOffset, data.length).readBigUInt64BE(8);
}

/**
 * Throughput: `burst` sends per turn as fast as backpressure allows (`send`
 * false: wait for `drain`). Paced: one send every 0.5 ms, so queueing does
 * not dominate the latency.
 */
export async function runPlan(plan: SendPlan, send: (data: Uint8Array) => boolean, drain: () => Promise<void>): Promise<void> {
  let seq = plan.startSeq;
  if (plan.phase === "paced") {
    for (let i = 0; i < plan.count; i++) {
      send(payload(seq++, plan.size));
      if (i % 2 === 1) await sleep(1);
    }
    return;
  }
  for (let i = 0; i < plan.count; i += plan.burst) {
    let full = false;
    for (let j = 0; j < plan.burst && i + j < plan.count; j++) {
      if (!send(payload(seq++, plan.size))) full = true;
    }
    if (full) await drain();
    else await Promise.resolve();
  }
}
