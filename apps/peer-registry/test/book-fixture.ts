// The peer book's units wired as the registry wires them, on a real LMDB
// store in a temp dir, with no network and an explicit clock: every call
// passes its own `now`.
import { after } from "node:test";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  ConnectionStateSchema,
  GatewayRunSchema,
  OffenceSchema,
  Direction,
  type DisconnectReason,
  type OffenceKind,
  StateKeys,
  type ConnectionState,
  type GatewayStateValue,
  type Peer,
} from "@timenet/proto";
import type { StateChange } from "@timenet/bus";
import { createLogger, createRegistry } from "@timenet/telemetry";
import { tempDir } from "@timenet/testkit";
import { normalizeIp, type PeerIp } from "@timenet/net-address";
import { resolveRegistryOptions, type RegistryOptions } from "../src/options.js";
import { openPeerBook } from "../src/peer-book.js";
import type { PeerRecords } from "../src/peer-records.js";
import { PeerStore } from "../src/peer-store.js";

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

export const ip = (s: string) => s as PeerIp;

export type Book = Awaited<ReturnType<typeof makeBook>>;

/** The units over one store; `reopen` makes a fresh set over the same store, as a registry restart does. */
export async function makeBook(extra: Partial<RegistryOptions> = {}, now = 1_000) {
  const dir = await tempDir("book-");
  const path = join(dir.path, "peers");
  const stores: PeerStore[] = [];
  cleanups.push(async () => {
    for (const s of stores) await s.close().catch(() => undefined);
    await dir.remove();
  });
  const baseOptions = resolveRegistryOptions({ natsUrl: "nats://unused", dbPath: dir.path, publicIp: ip("10.0.0.50"), passiveWaitMs: 30_000, ...extra });
  const open = async (at: number, options = baseOptions) => {
    const store = await PeerStore.open(path);
    stores.push(store);
    let policyChanges = 0;
    const promRegistry = createRegistry({ service: "t", collectDefault: false });
    const book = openPeerBook({ store, options, registry: promRegistry, logger: createLogger({ service: "t", level: "silent" }), now: at, random: () => 0.5 });
    book.judge.events.on("policyChanged", () => void policyChanges++);
    const metric = async (name: string, labels: Record<string, string> = {}) => {
      const m = await promRegistry.getSingleMetric(name)!.get();
      return m.values.filter((v) => Object.entries(labels).every(([k, val]) => String((v.labels as Record<string, unknown>)[k]) === val)).reduce((s, v) => s + v.value, 0);
    };
    return { store, ...book, metric, options, policyChanges: () => policyChanges };
  };
  const units = await open(now);
  return {
    ...units,
    /** Closes this set's store and opens the units again over the same file (with other options, as a restart with another configuration). */
    async reopen(at: number, changed: Partial<RegistryOptions> = {}) {
      await units.store.close();
      return open(at, resolveRegistryOptions({ ...baseOptions, ...changed }));
    },
  };
}

/** The gateway's run entry, as its state bucket carries it. */
export function run(id: number, revision = 1): StateChange<GatewayStateValue> {
  return { op: "put", key: StateKeys.gatewayRun, revision, value: { run: create(GatewayRunSchema, { runId: runId(id), startedAtMs: 1n, nodeId: "00" }) } };
}

export const runId = (id: number) => new Uint8Array(16).fill(id);

/** One IP's connection state: established, or ended with a reason. */
export function conn(
  addr: string,
  connId: number,
  o: { run?: number; direction?: Direction; at?: number; port?: number; node?: number; ended?: { reason: DisconnectReason; livedMs: number }; announced?: number } = {},
): StateChange<GatewayStateValue> {
  const value: ConnectionState = create(ConnectionStateSchema, {
    ip: addr,
    connId,
    runId: runId(o.run ?? 1),
    direction: o.direction ?? Direction.OUTBOUND,
    connectedAtMs: BigInt(o.at ?? 1_000),
    hello: { listenPort: o.port ?? 24100, nodeId: new Uint8Array(32).fill(o.node ?? connId), softwareVersion: "v", network: "devnet", bestHeight: 7 },
    ended: o.ended ? { reason: o.ended.reason, livedMs: BigInt(o.ended.livedMs), atMs: 2_000n } : undefined,
    announcedHeight: o.announced ?? 0,
    announcedHash: o.announced === undefined ? new Uint8Array(0) : new Uint8Array(32).fill(o.announced % 256),
  });
  // The key is the normalised IP's, as the gateway writes it (the IP field may be in any form).
  return { op: "put", key: StateKeys.connection(normalizeIp(addr)), revision: 1, value: { connection: value } };
}

export function deleted(addr: string): StateChange<GatewayStateValue> {
  return { op: "delete", key: StateKeys.connection(addr), revision: 1 };
}

/** An offence of the given kind (the registry grades it). */
export const offence = (addr: string, kind: OffenceKind) => create(OffenceSchema, { ip: addr, kind });

export function peerOf(b: { records: PeerRecords }, addr: string): Peer {
  const p = b.records.get(ip(addr));
  if (!p) throw new Error(`${addr} is not in the book`);
  return p;
}
