import type { Database } from "lmdb";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { PeerSchema, type Peer } from "@timenet/proto";
import { LmdbEnvironment } from "@timenet/lmdb";

type Tables = { peers: Database<Uint8Array, string> };

/**
 * The peer book on disk: one LMDB record per IP, the value a protobuf `Peer`.
 * A crash loses at most the last unflushed writes and never leaves a torn
 * record.
 */
export class PeerStore {
  private constructor(private readonly env: LmdbEnvironment<Tables>) {}

  /** Opens (creating) the book at `path`; a StoreOpenError says why it cannot. */
  static async open(path: string): Promise<PeerStore> {
    return new PeerStore(await LmdbEnvironment.open(path, "the peer book", (root) => ({ peers: root.openDB<Uint8Array, string>({ name: "peers", encoding: "binary" }) })));
  }

  /** Every stored peer; a record that does not decode is reported, not silently dropped. */
  load(onCorrupt: (ip: string, err: Error) => void): Peer[] {
    const out: Peer[] = [];
    for (const { key, value } of this.env.tables.peers.getRange()) {
      try {
        out.push(fromBinary(PeerSchema, value));
      } catch (err) {
        onCorrupt(key, err as Error);
      }
    }
    return out;
  }

  put(peer: Peer): void {
    void this.env.tables.peers.put(peer.ip, toBinary(PeerSchema, peer));
  }

  remove(ip: string): void {
    void this.env.tables.peers.remove(ip);
  }

  /** Resolves when every write so far is durable. */
  flushed(): Promise<void> {
    return this.env.flushed();
  }

  close(): Promise<void> {
    return this.env.close();
  }
}
