import { DeliverPolicy, jetstream, type Consumer, type JetStreamClient, type JetStreamManager, type JsMsg, type StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetStreamLoss } from "./jetstream-loss.js";

/** The latest message of one key's subject in a KV bucket's stream. */
export interface BucketEntry {
  readonly key: string;
  /** The stream sequence: the bucket's revision of this write. */
  readonly revision: number;
  readonly op: "put" | "delete";
  /** Empty for a delete, and when read headers only. */
  readonly value: Uint8Array;
  /** Entries still to come after this one when the server sent it: 0 means caught up. */
  readonly pending: number;
}

/** A running read of a bucket's entries. */
export interface EntryStream {
  /** Settles when the read ends (stopped, or the connection closed); rejects if it failed. */
  readonly done: Promise<void>;
  stop(): void;
}

/** How long one pull of `keys` waits for entries the bucket said it holds. */
const KEYS_PULL_MS = 5_000;

/**
 * How long one pull of a watch stays open. The server sends a heartbeat every
 * half of it, and two missed heartbeats make the client check its consumer
 * and recreate it if the server lost it: a lost consumer (or a pull the
 * server never answered) costs a watch 4–6 s of deafness, not the library's
 * default of 30 s expiries (two missed 15 s heartbeats: 30 s). The price is one pull request per 4 s
 * per watch while the bucket is quiet.
 */
const FOLLOW_PULL_MS = 4_000;

/** How long after a read is stopped a consumer the library was creating for it meanwhile is looked for. */
const RECREATE_SETTLE_MS = 2_000;

/**
 * How a read's consumer is deleted when NATS cannot answer at once: a reload
 * of its configuration makes JetStream's API answer "not enabled" (or not at
 * all) for a moment, and a read ended by that same reload (its subscription
 * revoked) deletes its consumer in that moment. Tried `attempts` times, the
 * waits doubling from `firstRetryMs` up to `maxRetryMs` (StateBucket passes
 * its FollowOptions' pollMs and maxPollMs).
 */
export interface ConsumerRemoval {
  readonly attempts: number;
  readonly firstRetryMs: number;
  readonly maxRetryMs: number;
}

/** What the client library tells a watch about its consumer that an operator should see (heartbeats are not). */
const TOLD = new Set(["heartbeats_missed", "consumer_not_found", "consumer_deleted", "stream_not_found", "no_responders", "ordered_consumer_recreated", "reset"]);

/** A change in how a watch reads: told by the client library (its consumer lost, recreated...), or by StateBucket (its read ended and begun again). */
export interface ReadStatus {
  readonly type: string;
  /** What else the library said (a consumer's name, a count), as text. */
  readonly detail: string;
}

/**
 * Reads a KV bucket's stream through an ordered *pull* consumer, starting at
 * the latest entry of every key (DeliverPolicy.LastPerSubject).
 *
 * Why not @nats-io/kv's own watch and keys: they read through an ordered
 * *push* consumer, which the client creates on the server before it
 * subscribes to its deliver subject. An entry the server pushes in between is
 * lost, and with no acknowledgements it is never sent again: a watch whose
 * one entry was lost sees nothing until the next write (a gateway ran without
 * the registry's bans), and `keys` waits for a 30 s heartbeat. A pull
 * consumer sends nothing until asked, and it answers on an inbox the client
 * already listens on, so nothing can fall in between.
 */
export class BucketReader {
  private js: JetStreamClient | undefined;

  constructor(
    private readonly connection: NatsConnection,
    private readonly jsm: JetStreamManager,
    readonly bucket: string,
    private readonly removal: ConsumerRemoval,
  ) {}

  private get stream(): string {
    return `KV_${this.bucket}`;
  }

  private subject(filter: string): string {
    return `$KV.${this.bucket}.${filter}`;
  }

  /** Whether the bucket's stream exists (its owner has created it). */
  async exists(): Promise<boolean> {
    return (await this.identity()) !== undefined;
  }

  /**
   * The stream's identity (when it was created), or undefined when there is
   * none: a bucket deleted and created again is another stream, whose
   * revisions start again from 1.
   */
  async identity(): Promise<string | undefined> {
    return (await this.info())?.created;
  }

  /** Keys matching `filter` now, deleted ones included (a delete marker is a key's latest entry). */
  async count(filter: string): Promise<number> {
    // Stream info is a request and its reply: nothing in it can be lost on the way.
    return keysIn(await this.jsm.streams.info(this.stream, { subjects_filter: this.subject(filter) }));
  }

  /** The stream's identity and count(filter), in one request; undefined when the bucket does not exist. */
  async look(filter: string): Promise<{ identity: string; keys: number } | undefined> {
    const si = await this.info(filter);
    return si && { identity: si.created, keys: keysIn(si) };
  }

  /** The stream's info (with the subjects matching `filter`, if given), or undefined when there is no such stream. */
  private async info(filter?: string): Promise<StreamInfo | undefined> {
    try {
      return await this.jsm.streams.info(this.stream, filter === undefined ? undefined : { subjects_filter: this.subject(filter) });
    } catch (err) {
      if (jetStreamLoss(err) === "stream") return undefined;
      throw err;
    }
  }

  /** The keys that hold a value now (not deleted), read headers only. */
  async keys(filter: string): Promise<string[]> {
    const present = await this.count(filter);
    if (present === 0) return [];
    const consumer = await this.consumer(filter, true);
    const out: string[] = [];
    try {
      // At most the keys counted above; keys written since may come too, and the read ends when caught up.
      for await (const m of await consumer.fetch({ max_messages: present, expires: KEYS_PULL_MS })) {
        const e = this.entry(m);
        if (e.op === "put") out.push(e.key);
        if (e.pending === 0) break;
      }
    } finally {
      void this.removeConsumer((await consumer.info(true)).name);
    }
    return out;
  }

  /**
   * Hands the latest entry of every key matching `filter`, then every later
   * write, to `onEntry`, in order; `onStatus` hears of the read's consumer
   * being lost and recreated, and of a stopped read's consumer left on the
   * server (`consumer_left`: NATS refused its delete `removal.attempts` times).
   */
  async follow(filter: string, onEntry: (e: BucketEntry) => void, onStatus?: (s: ReadStatus) => void): Promise<EntryStream> {
    const consumer = await this.consumer(filter, false);
    const messages = await consumer.consume({ max_messages: 100, expires: FOLLOW_PULL_MS });
    if (onStatus) {
      void (async () => {
        for await (const n of messages.status()) {
          if (!TOLD.has(n.type)) continue;
          const { type, ...rest } = n;
          onStatus({ type, detail: JSON.stringify(rest) });
        }
      })();
    }
    const done = (async () => {
      for await (const m of messages) onEntry(this.entry(m));
    })();
    return {
      done,
      stop: () => {
        messages.stop();
        // Else the server keeps it until its inactivity threshold (5 minutes). The library may also be creating
        // this read's next consumer right now (it recreates one whose heartbeats it missed), which it knows by
        // name only once the server made it: looked at again a little later, and deleted too.
        const remove = async (name: string): Promise<void> => {
          const failed = await this.removeConsumer(name);
          // A closed connection is a stop asked for (the service's own): not worth a warning.
          if (failed && !this.connection.isClosed()) onStatus?.({ type: "consumer_left", detail: JSON.stringify({ name, attempts: this.removal.attempts, error: failed.message }) });
        };
        void (async () => {
          const deleted = (await consumer.info(true)).name; // cached: no request
          await remove(deleted);
          await delay(RECREATE_SETTLE_MS);
          const next = (await consumer.info(true)).name;
          if (next !== deleted) await remove(next);
        })().catch(() => undefined); // a throwing onStatus must not become an unhandled rejection
      },
    };
  }

  /**
   * Deletes the consumer `name`, trying again while NATS cannot answer (see
   * ConsumerRemoval). Resolves with the last failure if it gave up (the server
   * then removes the consumer after its inactivity threshold, 5 minutes), or
   * undefined once the server has no such consumer.
   */
  private async removeConsumer(name: string): Promise<Error | undefined> {
    const { attempts, firstRetryMs, maxRetryMs } = this.removal;
    let waitMs = firstRetryMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.jsm.consumers.delete(this.stream, name);
        return undefined;
      } catch (err) {
        // Gone already (with its stream, perhaps): what the delete was for.
        if (jetStreamLoss(err) !== undefined) return undefined;
        if (attempt >= attempts || this.connection.isClosed()) return err as Error;
      }
      await delay(waitMs);
      waitMs = Math.min(waitMs * 2, maxRetryMs);
    }
  }

  private async consumer(filter: string, headersOnly: boolean): Promise<Consumer> {
    this.js ??= jetstream(this.connection);
    return this.js.consumers.get(this.stream, { filter_subjects: this.subject(filter), deliver_policy: DeliverPolicy.LastPerSubject, headers_only: headersOnly });
  }

  private entry(m: JsMsg): BucketEntry {
    const op = m.headers?.get("KV-Operation");
    return {
      key: m.subject.slice(this.subject("").length),
      revision: m.seq,
      op: op === "DEL" || op === "PURGE" ? "delete" : "put",
      value: m.data,
      pending: m.info.pending,
    };
  }
}

/** A wait that keeps no process alive. */
function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function keysIn(si: StreamInfo): number {
  return Object.keys(si.state.subjects ?? {}).length;
}
