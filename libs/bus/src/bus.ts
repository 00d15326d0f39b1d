import { create, fromBinary, isMessage, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { connect, NoRespondersError, PermissionViolationError, RequestError, TimeoutError, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { BusError } from "./bus-error.js";
import type { ReadStatus } from "./bucket-reader.js";

export type BusStatus = "connected" | "disconnected" | "reconnecting" | "reconnected" | "closed";

/** Hooks so a service can count bus failures in its own metrics. */
export interface BusEvents {
  onPublishError?(subject: string, err: Error): void;
  /** A message that does not decode is dropped and reported here, never passed to the handler. */
  onDecodeError?(subject: string, err: Error): void;
  /** A handler that throws or rejects is reported here; the subscription keeps going. */
  onHandlerError?(subject: string, err: Error): void;
  /**
   * A state watch's read (`bucket/filter`) lost its consumer or recreated it
   * (the client library's words), or ended by itself and is begun again
   * (`read_ended`, `read_restart_failed`, `read_restarted`): a watch deaf for
   * a while is seen.
   */
  onStateReadStatus?(watch: string, status: ReadStatus): void;
  /**
   * An owned state bucket was found deleted (`deleted`: recreated by its
   * owner) or replaced by another stream (`replaced`), and the owner wrote
   * back every entry it holds (`entries`).
   */
  onStateBucketRecreated?(bucket: string, how: "deleted" | "replaced", entries: number): void;
  onStatus?(status: BusStatus): void;
  /**
   * The server refused a publish or subscribe (this service's NATS user has
   * no permission for the subject): a bug in the permission table or in the
   * service, never normal operation.
   */
  onPermissionError?(operation: "publish" | "subscription", subject: string, err: Error): void;
}

export interface BusOptions extends BusEvents {
  servers: string | string[];
  /** Connection name, shown by the NATS server's monitoring. */
  name: string;
  user?: string;
  pass?: string;
  /** Default -1: reconnect forever (the NATS server is on the same host). */
  maxReconnectAttempts?: number;
  /**
   * Subject prefix of this connection's reply inboxes. Default `_INBOX.<user>`
   * with a user (the prefix the node's NATS permissions grant each user, see
   * natsInboxPrefix in @timenet/proto), else `_INBOX`.
   */
  inboxPrefix?: string;
}

export interface MessageContext {
  subject: string;
  reply?: string;
  respond<D extends DescMessage>(schema: D, msg: MessageShape<D> | MessageInitShape<D>): void;
  /** Responds with bytes that are already an encoded message of the reply's schema (spliced, see publishEncoded). */
  respondEncoded(bytes: Uint8Array): void;
}

export interface BusSubscription {
  readonly subject: string;
  unsubscribe(): void;
}

type Payload<D extends DescMessage> = MessageShape<D> | MessageInitShape<D>;

function encode<D extends DescMessage>(schema: D, msg: Payload<D>): Uint8Array {
  return toBinary(schema, isMessage(msg, schema) ? msg : create(schema, msg as MessageInitShape<D>));
}

/**
 * The node's internal bus: protobuf messages from proto/ over NATS, typed at
 * both ends. Publishing never throws (a failure is reported and returns
 * false), so a NATS hiccup cannot take a peer connection down with it.
 */
export class Bus {
  private closing: Promise<void> | undefined;

  private constructor(
    readonly connection: NatsConnection,
    /** The owner's hooks (also used by StateBucket for undecodable entries). */
    readonly events: BusEvents,
  ) {
    void this.watchStatus();
  }

  static async connect(opts: BusOptions): Promise<Bus> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: opts.servers,
        name: opts.name,
        user: opts.user,
        pass: opts.pass,
        maxReconnectAttempts: opts.maxReconnectAttempts ?? -1,
        inboxPrefix: opts.inboxPrefix ?? (opts.user ? `_INBOX.${opts.user}` : undefined),
        reconnectTimeWait: 500,
        // By default every request captures a stack trace (an Error) to add to a later error: a cost on
        // every GetBlocks and serving request, for a trace our errors do not need (they name the subject).
        noAsyncTraces: true,
      });
    } catch (err) {
      const servers = Array.isArray(opts.servers) ? opts.servers.join(",") : opts.servers;
      throw new BusError("ERR_BUS_CONNECT", `cannot connect to NATS at ${servers}: ${(err as Error).message}`, undefined, { cause: err });
    }
    return new Bus(nc, opts);
  }

  /** Publishes and subscriptions the server refused so far (see BusEvents.onPermissionError). */
  get permissionViolations(): number {
    return this.refused;
  }
  private refused = 0;

  get connected(): boolean {
    return !this.connection.isClosed() && !this.connection.isDraining() && this.isUp;
  }
  private isUp = true;

  publish<D extends DescMessage>(subject: string, schema: D, msg: Payload<D>): boolean {
    return this.publishEncoded(subject, encode(schema, msg));
  }

  /**
   * Publishes bytes that are already an encoded message of the subject's
   * schema (e.g. a message spliced around a forwarded embedded message).
   */
  publishEncoded(subject: string, bytes: Uint8Array): boolean {
    try {
      this.connection.publish(subject, bytes);
      return true;
    } catch (err) {
      this.events.onPublishError?.(subject, err as Error);
      return false;
    }
  }

  subscribe<D extends DescMessage>(
    subject: string,
    schema: D,
    handler: (msg: MessageShape<D>, ctx: MessageContext) => void | Promise<void>,
    opts: { queue?: string } = {},
  ): BusSubscription {
    return this.subscribeEncoded(
      subject,
      (bytes, ctx) => {
        let decoded: MessageShape<D>;
        try {
          decoded = fromBinary(schema, bytes);
        } catch (e) {
          this.events.onDecodeError?.(ctx.subject, e as Error);
          return;
        }
        return handler(decoded, ctx);
      },
      opts,
    );
  }

  /**
   * Subscribes to the encoded messages themselves: for a handler that reads
   * only part of a message and forwards the rest as bytes (a peer's answer
   * carried on, never decoded and encoded again). The handler decodes; a
   * message it cannot read is its to count.
   */
  subscribeEncoded(subject: string, handler: (bytes: Uint8Array, ctx: MessageContext) => void | Promise<void>, opts: { queue?: string } = {}): BusSubscription {
    const sub: Subscription = this.connection.subscribe(subject, {
      queue: opts.queue,
      callback: (err, m) => {
        if (err) {
          this.events.onHandlerError?.(subject, err);
          return;
        }
        const respondEncoded = (bytes: Uint8Array) => {
          try {
            m.respond(bytes);
          } catch (e) {
            this.events.onPublishError?.(m.reply ?? m.subject, e as Error);
          }
        };
        const ctx: MessageContext = { subject: m.subject, reply: m.reply, respond: (rs, r) => respondEncoded(encode(rs, r)), respondEncoded };
        try {
          const result = handler(m.data, ctx);
          if (result && typeof (result as Promise<void>).catch === "function") {
            (result as Promise<void>).catch((e: unknown) => this.events.onHandlerError?.(m.subject, e as Error));
          }
        } catch (e) {
          this.events.onHandlerError?.(m.subject, e as Error);
        }
      },
    });
    return { subject, unsubscribe: () => sub.unsubscribe() };
  }

  async request<Q extends DescMessage, R extends DescMessage>(
    subject: string,
    reqSchema: Q,
    req: Payload<Q>,
    resSchema: R,
    opts: { timeoutMs?: number } = {},
  ): Promise<MessageShape<R>> {
    const reply = await this.requestEncoded(subject, reqSchema, req, opts);
    try {
      return fromBinary(resSchema, reply);
    } catch (err) {
      throw new BusError("ERR_BUS_DECODE", `reply on ${subject} does not decode as ${resSchema.typeName}`, subject, { cause: err });
    }
  }

  /** As request, but resolves with the reply's bytes: for an asker that keeps parts of the reply as they came. */
  async requestEncoded<Q extends DescMessage>(subject: string, reqSchema: Q, req: Payload<Q>, opts: { timeoutMs?: number } = {}): Promise<Uint8Array> {
    const timeoutMs = opts.timeoutMs ?? 5_000;
    if (this.connection.isClosed()) throw new BusError("ERR_BUS_CLOSED", "bus is closed", subject);
    try {
      return (await this.connection.request(subject, encode(reqSchema, req), { timeout: timeoutMs })).data;
    } catch (err) {
      if (isNoResponders(err)) throw new BusError("ERR_BUS_NO_RESPONDERS", `no responders on ${subject}`, subject, { cause: err });
      if (isTimeout(err)) throw new BusError("ERR_BUS_TIMEOUT", `no reply on ${subject} within ${timeoutMs}ms`, subject, { cause: err });
      if (this.connection.isClosed()) throw new BusError("ERR_BUS_CLOSED", "bus is closed", subject, { cause: err });
      throw err;
    }
  }

  flush(): Promise<void> {
    return this.connection.flush();
  }

  /** Drains subscriptions, then closes. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.connection.isClosed()) return;
      try {
        await this.connection.drain();
      } catch {
        await this.connection.close();
      }
    })();
    return this.closing;
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.connection.status()) {
      if (s.type === "error" && s.error instanceof PermissionViolationError) {
        this.refused++;
        this.events.onPermissionError?.(s.error.operation, s.error.subject, s.error);
        continue;
      }
      const map: Record<string, BusStatus | undefined> = {
        disconnect: "disconnected",
        reconnecting: "reconnecting",
        reconnect: "reconnected",
        close: "closed",
      };
      const status = map[s.type];
      if (!status) continue;
      this.isUp = status === "reconnected";
      this.events.onStatus?.(status);
    }
  }
}

function isNoResponders(err: unknown): boolean {
  return err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders());
}

function isTimeout(err: unknown): boolean {
  return err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError);
}
