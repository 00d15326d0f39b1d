import { fromBinary } from "@bufbuild/protobuf";
import { ChainTipSchema, PeerRequestSchema, Subjects } from "@timenet/proto";
import type { BusSubscription } from "@timenet/bus";
import type { SyncNode } from "../test/harness.js";

/**
 * Every message on a node's NATS (`>`: requests, answers, KV updates, the
 * work queue, tips) with its time from `since`, for the start-up of one
 * run: where the time before the first block goes. A GetBlocks and its
 * answer are named by the range asked; a tip by its height. Bounded: only
 * the first `limit` messages are kept.
 */
export class BusTrace {
  private readonly sub: BusSubscription;
  private readonly events: Array<{ at: number; what: string }> = [];
  /** Reply subject → the question it answers. */
  private readonly asked = new Map<string, string>();

  constructor(
    node: SyncNode,
    private readonly since: number,
    private readonly limit = 400,
  ) {
    this.sub = node.bus.subscribeEncoded(">", (bytes, ctx) => {
      if (this.events.length < this.limit) this.events.push({ at: performance.now(), what: this.describe(ctx.subject, ctx.reply, bytes) });
    });
  }

  /** The trace up to `until` (by the performance clock), one line a message, then stops. */
  report(until: number): string {
    this.sub.unsubscribe();
    return this.events
      .filter((e) => e.at <= until)
      .map((e) => `    +${(e.at - this.since).toFixed(1).padStart(7)} ms  ${e.what}`)
      .join("\n");
  }

  private describe(subject: string, reply: string | undefined, bytes: Uint8Array): string {
    try {
      if (subject === Subjects.peerRequest) {
        const q = fromBinary(PeerRequestSchema, bytes);
        const p = q.envelope?.payload;
        const what = p?.case === "getBlocks" ? `GetBlocks ${p.value.fromHeight}+${p.value.count} from ${q.peerIp}` : `${p?.case} to ${q.peerIp}`;
        if (reply) this.asked.set(reply, what);
        return `${subject}: ${what}`;
      }
      const question = this.asked.get(subject);
      if (question) return `answer to ${question} (${bytes.length} B)`;
      if (subject === Subjects.chainTip) return `${subject}: height ${fromBinary(ChainTipSchema, bytes).height}`;
    } catch {
      // Not what its subject says: shown by its subject alone.
    }
    return `${subject.replace(/^_INBOX\.[^.]+/, "_INBOX")} (${bytes.length} B)`;
  }
}
