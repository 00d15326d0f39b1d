import type { Database, RootDatabase } from "lmdb";

/** The named databases of the chain's LMDB environment (see BlockStore for what each holds). */
export type ChainTables = {
  blocks: Database<Uint8Array, Uint8Array>;
  heights: Database<Uint8Array, number>;
  meta: Database<Uint8Array, string>;
  side: Database<Uint8Array, Uint8Array>;
};

/** Opens the chain's tables: the writer and the serving thread's reader open them alike. */
export function openChainTables(root: RootDatabase): ChainTables {
  return {
    blocks: root.openDB<Uint8Array, Uint8Array>({ name: "blocks", encoding: "binary", keyEncoding: "binary" }),
    heights: root.openDB<Uint8Array, number>({ name: "heights", encoding: "binary", keyEncoding: "uint32" }),
    meta: root.openDB<Uint8Array, string>({ name: "meta", encoding: "binary" }),
    side: root.openDB<Uint8Array, Uint8Array>({ name: "side", encoding: "binary", keyEncoding: "binary" }),
  };
}
