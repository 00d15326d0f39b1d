import { open, type Database, type RootDatabase } from "lmdb";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { PeerSchema, type Peer } from "@timenet/proto";

export class PeerStoreError extends Error {
  constructor(
    readonly code: "ERR_STORE_OPEN" | "ERR_STORE_CORRUPT",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "PeerStoreError";
  }
}

/**
 * The peer book on disk: one LMDB record per IP, the value a protobuf `Peer`.
 * LMDB commits whole transactions, so a crash loses at most the last
 * unflushed writes and never leaves a torn record.
 */
export class PeerStore {
  private constructor(
    private readonly root: RootDatabase,
    private readonly db: Database<Uint8Array, string>,
  ) {}

  static open(path: string): PeerStore {
    try {
      const root = open({ path, compression: false });
      const db = root.openDB<Uint8Array, string>({ name: "peers", encoding: "binary" });
      return new PeerStore(root, db);
    } catch (err) {
      throw new PeerStoreError("ERR_STORE_OPEN", `cannot open the peer book at ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Every stored peer; a record that does not decode is reported, not silently dropped. */
  load(onCorrupt: (ip: string, err: Error) => void): Peer[] {
    const out: Peer[] = [];
    for (const { key, value } of this.db.getRange()) {
      try {
        out.push(fromBinary(PeerSchema, value));
      } catch (err) {
        onCorrupt(key, err as Error);
      }
    }
    return out;
  }

  put(peer: Peer): void {
    void this.db.put(peer.ip, toBinary(PeerSchema, peer));
  }

  remove(ip: string): void {
    void this.db.remove(ip);
  }

  /** Resolves when every write so far is durable. */
  flushed(): Promise<void> {
    return this.db.flushed.then(() => undefined);
  }

  async close(): Promise<void> {
    await this.flushed();
    await this.root.close();
  }
}
