import { Kvm, type KV } from "@nats-io/kv";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { create, isMessage, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { Bus } from "./bus.js";
import { BusError } from "./bus-error.js";
import { BucketReader, type BucketEntry, type EntryStream } from "./bucket-reader.js";

/** One change of a bucket, in the order the bucket's single writer made them. */
export type StateChange<M> =
  | { readonly op: "put"; readonly key: string; readonly revision: number; readonly value: M }
  | { readonly op: "delete"; readonly key: string; readonly revision: number };

export interface StateWatch {
  /** Resolves once every entry present when the watch began has been handed to the handler. */
  readonly initialized: Promise<void>;
  stop(): void;
}

/** How a follower looks for a bucket its owner has not created yet. */
export interface FollowOptions {
  /**
   * The wait between two looks while the owner is expected soon, in ms.
   * Default 250. Also a watch's first wait before it begins a read that
   * ended by itself again, and before it tries again to delete the consumer
   * of a read it stopped (both doubling up to maxPollMs).
   */
  pollMs?: number;
  /**
   * How long the owner is expected soon (it starts beside us), in ms: after
   * this, each look that finds no bucket doubles the wait. Default 10 000.
   */
  backoffAfterMs?: number;
  /**
   * The longest wait, in ms. Default 2000. A follower whose owner stays away
   * (none at all, as a gateway in a bench) then costs the server one
   * JetStream API request every 2 s instead of four a second, and sees the
   * bucket at most this long after it appears.
   */
  maxPollMs?: number;
}

async function createBucket(bus: Bus, name: string, limits: StateBucketLimits): Promise<KV> {
  return new Kvm(bus.connection).create(name, {
    history: 1,
    storage: StorageType.File,
    max_bytes: limits.maxBytes ?? 64 * 1024 * 1024,
    maxValueSize: limits.maxValueSize ?? 1024 * 1024,
  });
}

/** A follower's defaults; an owner's watch uses them to begin a read again (pollMs then up to maxPollMs). */
const FOLLOW_DEFAULTS = { pollMs: 250, backoffAfterMs: 10_000, maxPollMs: 2_000 } as const;
/** Tries to delete a stopped read's consumer (pollMs, doubling up to maxPollMs: ~10 s by default; a reload's moment is tens of ms). */
const CONSUMER_REMOVAL_ATTEMPTS = 8;
/** What the client library says when a read's consumer is gone: its bucket may have been deleted, or created again. */
const LOST = new Set(["consumer_deleted", "consumer_not_found", "stream_not_found", "ordered_consumer_recreated"]);
/** How quiet a bucket must be before a key that a read begun again did not find is handed over as deleted. */
const ABSENT_GRACE_MS = 2_000;
/** The longest a key a read begun again did not find waits to be handed over as deleted (a bucket that is never quiet). */
const ABSENT_MAX_WAIT_MS = 30_000;
/** A read that lasted this long before it ended is begun again at once (pollMs); one that ends sooner waits twice as long each time. */
const READ_LIVED_MS = 10_000;

export interface StateBucketLimits {
  /** Bytes the bucket may hold on the server; writes beyond fail. Default 64 MiB. */
  maxBytes?: number;
  /** Largest value. Default 1 MiB. */
  maxValueSize?: number;
  /**
   * How often the owner looks whether its bucket still exists and is still
   * the same stream, in ms (one JetStream API request). Default 30 000: a
   * bucket deleted while its owner has nothing to write is back within 30 s,
   * not at the owner's next change, which may be hours away. 0: never.
   */
  checkEveryMs?: number;
}

/**
 * A NATS JetStream KV bucket holding one service's published state as
 * protobuf values (the contracts in proto/): the service that owns it opens
 * it with `open` (creating it) and writes; others `follow` it and only read
 * and watch (the node's NATS permissions let only the owner's user create or
 * write it). Only the latest value of each key is kept (history 1), on file
 * storage so the state outlives a NATS restart.
 */
export class StateBucket {
  /** A follower's view of whether the bucket exists yet (the owner creates it). */
  private present: boolean;
  private bucketReader: BucketReader | undefined;
  /**
   * The owner's entries as it last wrote them (deleted keys removed), to write
   * back into a bucket deleted or replaced under it. Bounded by what the
   * bucket itself holds.
   */
  private readonly written = new Map<string, Uint8Array>();
  /** The revision of the owner's last put: a put answered with a lower one went to another stream. */
  private lastRevision = 0;
  private recovering: Promise<boolean> | undefined;
  /** The stream the owner writes to (its creation time), as last seen. */
  private stream: string | undefined;

  private constructor(
    private readonly bus: Bus,
    private kv: KV,
    readonly name: string,
    private readonly follower?: Required<FollowOptions>,
    private readonly limits: StateBucketLimits = {},
  ) {
    this.present = follower === undefined;
  }

  /**
   * Reads and watches a bucket another service owns, without ever creating
   * it: until its owner has created it, it reads as empty and a watch starts
   * once it appears (looked for every 250 ms for 10 s, then less and less
   * often, at least every 2 s: FollowOptions).
   */
  static async follow(bus: Bus, name: string, o: FollowOptions = {}): Promise<StateBucket> {
    const pollMs = o.pollMs ?? FOLLOW_DEFAULTS.pollMs;
    const follower = { pollMs, backoffAfterMs: o.backoffAfterMs ?? FOLLOW_DEFAULTS.backoffAfterMs, maxPollMs: Math.max(pollMs, o.maxPollMs ?? FOLLOW_DEFAULTS.maxPollMs) };
    try {
      const kv = await new Kvm(bus.connection).open(name);
      return new StateBucket(bus, kv, name, follower);
    } catch (err) {
      throw new BusError("ERR_BUS_STATE", `cannot open the KV bucket ${name} (NATS must run with JetStream): ${(err as Error).message}`, name, { cause: err });
    }
  }

  /** Creates the bucket (idempotent) for its owner, the one service that writes it. */
  static async open(bus: Bus, name: string, limits: StateBucketLimits = {}): Promise<StateBucket> {
    try {
      const bucket = new StateBucket(bus, await createBucket(bus, name, limits), name, undefined, limits);
      bucket.stream = await (await bucket.reader()).identity();
      bucket.checkOwnBucket(limits.checkEveryMs ?? 30_000);
      return bucket;
    } catch (err) {
      throw new BusError("ERR_BUS_STATE", `cannot open the KV bucket ${name} (NATS must run with JetStream): ${(err as Error).message}`, name, { cause: err });
    }
  }

  /**
   * Writes the value of `key`; resolves with its revision once the server
   * stored it. A bucket deleted under its owner (an operator's `nats kv rm`,
   * a NATS that lost its store) is created again by this write; one replaced
   * by another stream is noticed by this write's revision. Either way every
   * entry the owner holds is written back (onStateBucketRecreated).
   */
  async put<D extends DescMessage>(key: string, schema: D, msg: MessageShape<D> | MessageInitShape<D>): Promise<number> {
    this.mustOwn(key);
    const bytes = toBinary(schema, isMessage(msg, schema) ? msg : create(schema, msg as MessageInitShape<D>));
    const revision = await this.write(key, () => this.kv.put(key, bytes), "write");
    this.written.delete(key); // re-inserted: the map's order is the order of the owner's writes
    this.written.set(key, bytes);
    if (revision <= this.lastRevision) {
      // Another stream took the bucket's name (revisions start again from 1): it lacks the owner's other entries.
      await this.refill("replaced", await (await this.reader()).identity().catch(() => undefined), { key, revision });
    }
    this.lastRevision = Math.max(this.lastRevision, revision);
    return revision;
  }

  async delete(key: string): Promise<void> {
    this.mustOwn(key);
    await this.write(key, () => this.kv.delete(key), "delete");
    this.written.delete(key);
  }

  /** One write; if it failed because the bucket is gone, the bucket is created again, filled, and the write tried once more. */
  private async write<T>(key: string, op: () => Promise<T>, verb: string): Promise<T> {
    let failure: unknown;
    try {
      return await op();
    } catch (err) {
      failure = err;
    }
    try {
      if (await this.recreateIfDeleted()) return await op();
    } catch {
      // NATS away (cannot tell whether the bucket exists), or the write failed again: its first error says why.
    }
    throw new BusError("ERR_BUS_STATE", `cannot ${verb} ${this.name}/${key}: ${(failure as Error).message}`, key, { cause: failure });
  }

  /** Creates the owner's bucket again if it no longer exists (one attempt at a time); true when it did. */
  private async recreateIfDeleted(): Promise<boolean> {
    this.recovering ??= (async () => {
      if (await (await this.reader()).exists()) return false;
      this.kv = await createBucket(this.bus, this.name, this.limits);
      await this.refill("deleted", await (await this.reader()).identity());
      return true;
    })().finally(() => (this.recovering = undefined));
    return this.recovering;
  }

  /** Looks every `everyMs` whether the owner's bucket was deleted or replaced, and if so writes it back; ends with the bus. */
  private checkOwnBucket(everyMs: number): void {
    if (everyMs <= 0) return;
    const timer = setInterval(() => {
      if (this.bus.connection.isClosed()) return clearInterval(timer);
      if (this.recovering) return;
      void (async () => {
        const now = await (await this.reader()).identity();
        if (now === undefined) await this.recreateIfDeleted();
        else if (this.stream !== undefined && now !== this.stream) await this.refill("replaced", now);
        else this.stream = now;
      })().catch(() => undefined); // NATS away, or a write failed: the next look, or the next write, tries again
    }, everyMs);
    timer.unref();
  }

  /**
   * The bucket is a new stream (`stream`): every entry the owner holds is
   * written into it, but `alreadyThere`, a put that landed in it at its revision.
   */
  private async refill(how: "deleted" | "replaced", stream: string | undefined, alreadyThere?: { key: string; revision: number }): Promise<void> {
    this.stream = stream;
    this.lastRevision = alreadyThere?.revision ?? 0;
    for (const [key, bytes] of [...this.written]) {
      if (key !== alreadyThere?.key) this.lastRevision = Math.max(this.lastRevision, await this.kv.put(key, bytes));
    }
    this.bus.events.onStateBucketRecreated?.(this.name, how, this.written.size);
  }

  /** The value of `key` now, or undefined when it has none (or was deleted). */
  async get<M>(key: string, decode: (value: Uint8Array) => M): Promise<M | undefined> {
    if (!(await this.exists())) return undefined;
    let e;
    try {
      e = await this.kv.get(key);
    } catch (err) {
      throw new BusError("ERR_BUS_STATE", `cannot read ${this.name}/${key}: ${(err as Error).message}`, key, { cause: err });
    }
    return e && e.operation === "PUT" ? decode(e.value) : undefined;
  }

  /** The keys that hold a value now (deleted ones excluded), matching a filter such as `c.>`. */
  async keys(filter = ">"): Promise<string[]> {
    if (!(await this.exists())) return [];
    try {
      return await (await this.reader()).keys(filter);
    } catch (err) {
      throw new BusError("ERR_BUS_STATE", `cannot list the keys of ${this.name}/${filter}: ${(err as Error).message}`, filter, { cause: err });
    }
  }

  /**
   * Hands every change of the keys matching `key` to `handler`, in order:
   * first the latest value of each key (deleted keys as deletes), then every
   * later change. `decode` turns a value into its message by key (one bucket
   * may hold several message types); a value that does not decode is reported
   * on the bus's decode-error hook and skipped. The handler must apply state
   * (a value handed twice changes nothing): a read that ends by itself is
   * begun again, and hands over the latest value of each key once more; a
   * key it no longer finds (its bucket was deleted and created again) is
   * handed over as a delete if it is still missing once the bucket has been
   * quiet for 2 s (at most 30 s later).
   */
  async watch<M>(opts: { key?: string; decode: (key: string, value: Uint8Array) => M }, handler: (change: StateChange<M>) => void): Promise<StateWatch> {
    const filter = opts.key ?? ">";
    const watchName = `${this.name}/${filter}`;
    let markInitialized!: () => void;
    const initialized = new Promise<void>((r) => (markInitialized = r));
    let stopped = false;
    let stopEntries: (() => void) | undefined;
    let poll: NodeJS.Timeout | undefined;
    const { pollMs, maxPollMs } = this.follower ?? FOLLOW_DEFAULTS;
    // The keys whose latest change handed over was a put: a read begun again hands over the bucket's entries as
    // they are now, and a key among these that it lacks (its bucket deleted and created again) is handed a delete.
    const live = new Set<string>();
    // Keys a read begun again did not find, handed over as deletes only once the bucket has been quiet for
    // ABSENT_GRACE_MS (at most ABSENT_MAX_WAIT_MS after the read began): an owner filling its bucket again writes
    // its entries one by one, as fast as its NATS takes them, and a read may begin halfway.
    let absent = new Set<string>();
    let absentTimer: NodeJS.Timeout | undefined;
    let absentDeadline = 0;
    const awaitAbsent = (): void => {
      clearTimeout(absentTimer);
      absentTimer = setTimeout(handOverAbsent, Math.max(0, Math.min(ABSENT_GRACE_MS, absentDeadline - performance.now())));
      absentTimer.unref();
    };
    const apply = (change: StateChange<M>): void => {
      absent.delete(change.key);
      if (absentTimer !== undefined) awaitAbsent();
      if (change.op === "put") live.add(change.key);
      else live.delete(change.key);
      handler(change);
    };
    const handOverAbsent = (): void => {
      absentTimer = undefined;
      const gone = [...absent].filter((key) => live.has(key));
      absent = new Set();
      if (!stopped) for (const key of gone) this.deliverChange({ op: "delete", key, revision: 0 }, apply);
    };
    let reads = 0;
    const begin = async (): Promise<void> => {
      let entries: EntryStream | undefined;
      const restarted = reads++ > 0;
      // Keys of this read's first entries (the bucket as it was when the read began), if it is begun again.
      let present = restarted ? new Set<string>() : undefined;
      let settled = false;
      const settle = (): void => {
        settled = true;
        markInitialized();
        if (present) {
          for (const key of live) if (!present.has(key)) absent.add(key);
          if (absent.size > 0 && absentTimer === undefined) {
            absentDeadline = performance.now() + ABSENT_MAX_WAIT_MS;
            awaitAbsent();
          }
        }
        present = undefined;
      };
      let stream: string | undefined;
      let endedBecause: string | undefined;
      try {
        const reader = await this.reader();
        const now = await reader.look(filter);
        if (now === undefined) throw new Error(`the bucket ${this.name} does not exist (deleted)`);
        stream = now.identity;
        // The entries present now end with one sent when nothing more is pending;
        // with none present nothing is sent, so an empty start is settled here.
        if (now.keys === 0) settle();
        entries = await reader.follow(
          filter,
          (e) => {
            if (!settled) present?.add(e.key);
            this.deliver(e, opts.decode, apply);
            if (e.pending === 0 && !settled) settle();
          },
          (s) => {
            this.bus.events.onStateReadStatus?.(watchName, s);
            // The library recreates a lost consumer from where it was, in whatever stream now has the bucket's name:
            // in a bucket deleted and created again, that skips the new stream's first entries. Such a read ends here
            // and is begun again from the new stream's entries as they are.
            if (!LOST.has(s.type) || endedBecause !== undefined) return;
            void reader.identity().then(
              (now) => {
                if (now === stream || endedBecause !== undefined || stopped) return;
                endedBecause = now === undefined ? "the bucket was deleted" : "the bucket was deleted and created again";
                entries?.stop(); // not yet returned by follow: stopped just below, once it is
              },
              () => undefined, // cannot tell now: the library's next status asks again
            );
          },
        );
      } catch (err) {
        throw new BusError("ERR_BUS_STATE", `cannot watch ${watchName}: ${(err as Error).message}`, filter, { cause: err });
      }
      const running = entries;
      stopEntries = () => running.stop();
      if (stopped || endedBecause !== undefined) running.stop();
      const began = performance.now();
      const ended = (err?: Error) => {
        // Its consumer stays on the server otherwise, until its inactivity threshold (5 minutes).
        if (!stopped) running.stop();
        readEnded(err ?? (endedBecause === undefined ? undefined : new Error(endedBecause)), began);
      };
      void running.done.then(() => ended(), ended);
    };
    // The library ends a read by itself on what it takes for terminal: the
    // server revoking its subscription (a permission reload), a bad request,
    // a consumer it could not recreate 30 times. A watch that stayed ended
    // would leave its service deaf for good (a gateway without the registry's
    // bans), so it begins again: the handler gets the latest value of every
    // key once more (handlers apply state, so a value seen twice changes
    // nothing) and then every change. A read that keeps ending is begun again
    // less and less often, at most every maxPollMs.
    let retryMs = pollMs;
    const again = (): void => {
      if (stopped || this.bus.connection.isClosed()) return;
      const waitMs = retryMs;
      retryMs = Math.min(retryMs * 2, maxPollMs);
      poll = setTimeout(() => {
        begin().then(
          () => this.bus.events.onStateReadStatus?.(watchName, { type: "read_restarted", detail: `after ${waitMs} ms` }),
          (err: Error) => {
            this.bus.events.onStateReadStatus?.(watchName, { type: "read_restart_failed", detail: err.message });
            again();
          },
        );
      }, waitMs);
      poll.unref();
    };
    const readEnded = (err: Error | undefined, began: number): void => {
      // Stopped, or the connection closed: the end was asked for.
      if (stopped || this.bus.connection.isClosed()) return;
      if (performance.now() - began >= READ_LIVED_MS) retryMs = pollMs;
      this.bus.events.onStateReadStatus?.(watchName, { type: "read_ended", detail: err?.message ?? "ended without an error" });
      again();
    };
    if (await this.exists()) {
      await begin();
    } else {
      // Not created by its owner yet: empty now, watched from its first entry once it exists.
      markInitialized();
      const { backoffAfterMs } = this.follower!;
      const since = performance.now();
      let waitMs = pollMs;
      const later = () => {
        // A closed bus ends the wait: nothing could be watched on it.
        if (stopped || this.bus.connection.isClosed()) return;
        if (performance.now() - since >= backoffAfterMs) waitMs = Math.min(waitMs * 2, maxPollMs);
        poll = setTimeout(() => void check(), waitMs);
        // The wait alone keeps no process alive.
        poll.unref();
      };
      const check = async (): Promise<void> => {
        const yes = await this.exists().catch(() => false);
        if (stopped) return;
        if (!yes) return later();
        try {
          await begin();
        } catch (err) {
          // Reported, and tried again: a watch that failed to start once must not stay dead.
          this.bus.events.onHandlerError?.(watchName, err as Error);
          later();
        }
      };
      later();
    }
    return {
      initialized,
      stop: () => {
        stopped = true;
        clearTimeout(poll);
        clearTimeout(absentTimer);
        stopEntries?.();
      },
    };
  }

  /** Whether the bucket exists: always for its owner; for a follower, once the owner has created it. */
  private async exists(): Promise<boolean> {
    if (this.present) return true;
    try {
      this.present = await (await this.reader()).exists();
    } catch (err) {
      throw new BusError("ERR_BUS_STATE", `cannot look up the KV bucket ${this.name}: ${(err as Error).message}`, this.name, { cause: err });
    }
    return this.present;
  }

  private async reader(): Promise<BucketReader> {
    const { pollMs, maxPollMs } = this.follower ?? FOLLOW_DEFAULTS;
    this.bucketReader ??= new BucketReader(this.bus.connection, await jetstreamManager(this.bus.connection), this.name, {
      attempts: CONSUMER_REMOVAL_ATTEMPTS,
      firstRetryMs: pollMs,
      maxRetryMs: maxPollMs,
    });
    return this.bucketReader;
  }

  private mustOwn(key: string): void {
    if (this.follower) throw new BusError("ERR_BUS_STATE", `${this.name} is followed, not owned: this service may not write ${key}`, key);
  }

  private deliver<M>(e: BucketEntry, decode: (key: string, value: Uint8Array) => M, handler: (change: StateChange<M>) => void): void {
    let change: StateChange<M>;
    if (e.op === "put") {
      try {
        change = { op: "put", key: e.key, revision: e.revision, value: decode(e.key, e.value) };
      } catch (err) {
        this.bus.events.onDecodeError?.(`${this.name}/${e.key}`, err as Error);
        return;
      }
    } else {
      change = { op: "delete", key: e.key, revision: e.revision };
    }
    this.deliverChange(change, handler);
  }

  private deliverChange<M>(change: StateChange<M>, handler: (change: StateChange<M>) => void): void {
    try {
      handler(change);
    } catch (err) {
      this.bus.events.onHandlerError?.(`${this.name}/${change.key}`, err as Error);
    }
  }
}
