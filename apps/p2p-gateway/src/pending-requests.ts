import type { Clock, TimerHandle } from "./clock.js";
import type { Answer } from "./frame-prices.js";

export class PeerRequestError extends Error {
  constructor(
    readonly code: "TIMEOUT" | "PEER_CLOSED" | "TOO_MANY_REQUESTS" | "NOT_A_QUESTION",
    message: string,
  ) {
    super(message);
    this.name = "PeerRequestError";
  }
}

/** A peer's answer: its encoding as received, to carry on without encoding it again (decoded and checked by the asker). */
export interface PeerAnswer {
  body: Uint8Array;
}

interface Pending {
  /** What the answer may be: its kind, size and shape (priced before it is read). */
  answer: Answer;
  resolve(answer: PeerAnswer): void;
  reject(err: Error): void;
  timer: TimerHandle;
}

/** Timed-out questions whose late answers are still recognised (and skipped unread) rather than taken as unsolicited. */
const LATE_ANSWERS_REMEMBERED = 32;

/** Only these kinds answer a question; any other kind is never taken for a response, whatever its request id. */
const RESPONSE_KINDS = new Set(["blocks", "peers"]);

/**
 * The questions we asked a peer on one connection that are still waiting for
 * their answer, by request id. Bounded, so a peer that never answers cannot
 * make us hold an unbounded number of them.
 */
export class PendingRequests {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Ids of questions that timed out, newest last (bounded). */
  private readonly late: number[] = [];

  constructor(
    private readonly max: number,
    private readonly clock: Clock,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /**
   * Registers a question under a fresh non-zero id, then calls `send` with
   * that id, and resolves with the response carrying the same id. The
   * question is registered before it is sent: sending may close the
   * connection, which must reject it too.
   */
  ask(timeoutMs: number, answer: Answer, send: (requestId: number) => void): Promise<PeerAnswer> {
    if (this.pending.size >= this.max) {
      return Promise.reject(new PeerRequestError("TOO_MANY_REQUESTS", `${this.pending.size} requests already pending on this connection`));
    }
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return new Promise<PeerAnswer>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(id);
        this.rememberLate(id);
        reject(new PeerRequestError("TIMEOUT", `no response within ${timeoutMs}ms`));
      }, timeoutMs);
      this.pending.set(id, { answer, resolve, reject, timer });
      send(id);
    });
  }

  /** Whether we asked under this id and stopped waiting (its answer may still come, late: not the peer's fault). */
  wasAsked(requestId: number): boolean {
    return this.late.includes(requestId);
  }

  private rememberLate(id: number): void {
    this.late.push(id);
    if (this.late.length > LATE_ANSWERS_REMEMBERED) this.late.shift();
  }

  /** The answer awaited under this request id, if any. */
  expected(requestId: number): Answer | undefined {
    return this.pending.get(requestId)?.answer;
  }

  /** Hands a response (`body`: its encoding as received) to the question it answers; false if it answers none (then it is an unsolicited message). */
  answer(requestId: number, kind: string, body: Uint8Array): boolean {
    if (requestId === 0 || !RESPONSE_KINDS.has(kind)) return false;
    const p = this.pending.get(requestId);
    if (!p) return false;
    this.pending.delete(requestId);
    this.clock.clearTimeout(p.timer);
    p.resolve({ body });
    return true;
  }

  /** The connection is gone: no question will be answered. */
  rejectAll(why: string): void {
    for (const p of this.pending.values()) {
      this.clock.clearTimeout(p.timer);
      p.reject(new PeerRequestError("PEER_CLOSED", why));
    }
    this.pending.clear();
  }
}
