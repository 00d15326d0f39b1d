// Who may publish and subscribe what on a node's NATS: one user per service,
// derived from the subjects, buckets and streams in subjects.ts. The
// nats-server configuration is generated from this table (nats-config.ts,
// bin/nats-config.mjs), so a subject added here is the only edit a new flow needs.
import { Buckets, PEER_MESSAGE_KINDS, Streams, Subjects } from "./subjects.js";

/** The NATS users of a node: one per service, plus a read-only operator (monitoring, the soak). */
export const NATS_USERS = ["p2p-gateway", "peer-registry", "chain-sync", "block-store", "block-producer", "operator"] as const;
export type NatsUser = (typeof NATS_USERS)[number];

/** The variable holding each user's password, on the nats-server side (a service reads its own as NATS_PASS). */
export const NATS_PASSWORD_ENV: Readonly<Record<NatsUser, string>> = {
  "p2p-gateway": "NATS_PASS_GATEWAY",
  "peer-registry": "NATS_PASS_REGISTRY",
  "chain-sync": "NATS_PASS_SYNC",
  "block-store": "NATS_PASS_STORE",
  "block-producer": "NATS_PASS_PRODUCER",
  operator: "NATS_PASS_OPERATOR",
};

/**
 * Each user's replies arrive under its own inbox prefix (the client's
 * `inboxPrefix`), so no user can subscribe to another's replies.
 */
export const natsInboxPrefix = (user: NatsUser): string => `_INBOX.${user}`;

/** What one service does on the bus, in the contracts' terms. */
export interface NatsGrant {
  /** Plain subjects it publishes (events, commands, requests). */
  readonly publishes: readonly string[];
  /** Plain subjects it subscribes to. */
  readonly subscribes: readonly string[];
  /** It answers requests (publishes to the requester's reply subject, and only that). */
  readonly responds?: boolean;
  /** KV buckets it creates and writes (each has exactly one owner). */
  readonly ownsBuckets?: readonly string[];
  /** KV buckets it reads and watches (never writes). */
  readonly readsBuckets?: readonly string[];
  /** Work-queue streams it creates, publishes to and consumes. */
  readonly worksStreams?: ReadonlyArray<{ readonly name: string; readonly consumer: string; readonly subject: string }>;
}

const peerIn = PEER_MESSAGE_KINDS.map((k) => Subjects.peerIn(k));

/** The table: every service's grant. */
export const NATS_GRANTS: Readonly<Record<NatsUser, NatsGrant>> = {
  "p2p-gateway": {
    publishes: [...peerIn, Subjects.peerOutBroadcast, Subjects.offence, Subjects.dialFailed],
    subscribes: [Subjects.peerOutSend, Subjects.peerOutBroadcast, Subjects.peerRequest, Subjects.registryDial, Subjects.chainTip],
    responds: true, // p2p.request: the peer's answer goes back to the requester
    ownsBuckets: [Buckets.connections],
    readsBuckets: [Buckets.admission],
  },
  "peer-registry": {
    publishes: [Subjects.peerOutSend, Subjects.peerRequest, Subjects.registryDial],
    subscribes: [Subjects.peerIn("get_peers"), Subjects.peerIn("peers"), Subjects.peerIn("new_block"), Subjects.dialFailed, Subjects.offence],
    ownsBuckets: [Buckets.admission],
    readsBuckets: [Buckets.connections],
  },
  "chain-sync": {
    publishes: [Subjects.peerRequest, Subjects.offence, Subjects.syncWorkerHeartbeat],
    subscribes: [Subjects.chainTip, Subjects.peerIn("new_block"), Subjects.offence, Subjects.syncWorkerHeartbeat],
    ownsBuckets: [Buckets.syncLeader],
    readsBuckets: [Buckets.connections],
    worksStreams: [Streams.syncBatches],
  },
  "block-store": {
    publishes: [Subjects.chainTip, Subjects.peerOutSend],
    subscribes: [Subjects.peerIn("get_blocks")],
  },
  "block-producer": {
    // Blocks go to the block-store over gRPC; the gateway announces the new tip.
    publishes: [],
    subscribes: [Subjects.peerIn("tx"), Subjects.chainTip],
  },
  operator: {
    publishes: [],
    subscribes: [Subjects.chainTip, Subjects.syncWorkerHeartbeat, Subjects.offence, Subjects.dialFailed, Subjects.registryDial],
    readsBuckets: [Buckets.connections, Buckets.admission],
  },
};

/** The raw NATS permissions of one user: its grant plus what the clients send underneath. */
export interface NatsPermissions {
  readonly publish: string[];
  readonly subscribe: string[];
  readonly allowResponses: boolean;
}

const API = "$JS.API";

/**
 * Reading a KV bucket: bind and look-ups (stream info), get (message get), and
 * keys and watch (libs/bus BucketReader: ordered pull consumers, which pull
 * with MSG.NEXT and are deleted when done).
 */
function kvRead(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [
    `${API}.STREAM.INFO.${stream}`,
    `${API}.STREAM.MSG.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}.>`,
    `${API}.CONSUMER.CREATE.${stream}`,
    `${API}.CONSUMER.CREATE.${stream}.>`,
    `${API}.CONSUMER.INFO.${stream}.*`,
    `${API}.CONSUMER.DELETE.${stream}.*`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.*`,
  ];
}

/** Creating and writing a KV bucket (put and delete publish to `$KV.<bucket>.<key>`). */
function kvOwn(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [...kvRead(bucket), `${API}.STREAM.CREATE.${stream}`, `${API}.STREAM.UPDATE.${stream}`, `$KV.${bucket}.>`];
}

/** A work-queue stream with one durable pull consumer: declare both, publish, pull, acknowledge. */
function workQueue(s: { name: string; consumer: string; subject: string }): string[] {
  return [
    `${API}.STREAM.INFO.${s.name}`,
    `${API}.STREAM.CREATE.${s.name}`,
    `${API}.STREAM.UPDATE.${s.name}`,
    `${API}.CONSUMER.CREATE.${s.name}.${s.consumer}`,
    `${API}.CONSUMER.CREATE.${s.name}.${s.consumer}.>`,
    `${API}.CONSUMER.DURABLE.CREATE.${s.name}.${s.consumer}`,
    `${API}.CONSUMER.INFO.${s.name}.${s.consumer}`,
    `${API}.CONSUMER.MSG.NEXT.${s.name}.${s.consumer}`,
    `$JS.ACK.${s.name}.${s.consumer}.>`,
    s.subject,
  ];
}

export function natsPermissions(user: NatsUser): NatsPermissions {
  const g = NATS_GRANTS[user];
  const usesJetStream = (g.ownsBuckets?.length ?? 0) + (g.readsBuckets?.length ?? 0) + (g.worksStreams?.length ?? 0) > 0;
  const publish = [
    ...g.publishes,
    // The JetStream clients check the account once (jetstreamManager).
    ...(usesJetStream ? [`${API}.INFO`] : []),
    ...(g.ownsBuckets ?? []).flatMap(kvOwn),
    ...(g.readsBuckets ?? []).flatMap(kvRead),
    ...(g.worksStreams ?? []).flatMap(workQueue),
  ];
  return {
    publish: [...new Set(publish)],
    subscribe: [...new Set([...g.subscribes, `${natsInboxPrefix(user)}.>`])],
    allowResponses: g.responds === true,
  };
}
