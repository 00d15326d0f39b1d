import { status } from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { HASH_LENGTH } from "@timenet/chain";
import { BlockInvalidReason, PutBlocksResponseSchema, type BlockStoreService, type PutBlocksResponse } from "@timenet/proto";
import { GrpcStatusError, type ServiceImpl } from "@timenet/grpc";
import type { BlockStore, PutOutcome } from "./block-store.js";
import { ImportBusyError, type ImportPipeline } from "./import-pipeline.js";
import { blockBytesAsSent } from "./put-blocks-request.js";

export interface BlockStoreServiceDeps {
  store: BlockStore;
  /** Where puts go: validated (in parallel) and committed in order. */
  importer: ImportPipeline;
  /** Called after every put (the service publishes the tip when it changed). */
  onPut(outcome: PutOutcome): void;
}

export function putResponse(store: BlockStore, o: PutOutcome): PutBlocksResponse {
  return create(PutBlocksResponseSchema, {
    result: o.result,
    tip: store.chainTip(),
    applied: o.applied,
    invalidReason: o.invalid?.reason ?? BlockInvalidReason.UNSPECIFIED,
    invalidIndex: o.invalid?.index ?? 0,
    detail: o.detail,
    reorgDepth: o.reorgDepth,
    held: o.held ?? 0,
    retryAfterMs: o.retryAfterMs ?? 0,
  });
}

/** The chain over gRPC: what sync, the producer and operators ask, and the one way blocks come in. */
export function blockStoreServiceImpl(d: BlockStoreServiceDeps): ServiceImpl<typeof BlockStoreService> {
  const { store } = d;
  return {
    getTip() {
      return { tip: store.chainTip() };
    },
    getBlock(req) {
      if (req.by.case === "height") {
        const block = store.blockAt(req.by.value);
        if (!block) throw new GrpcStatusError(status.NOT_FOUND, `no block at height ${req.by.value} (tip ${store.tip.height})`);
        return { block, mainChain: true };
      }
      if (req.by.case === "hash") {
        if (req.by.value.length !== HASH_LENGTH) throw new GrpcStatusError(status.INVALID_ARGUMENT, `a block hash is ${HASH_LENGTH} bytes, got ${req.by.value.length}`);
        const found = store.blockByHash(req.by.value);
        if (!found) throw new GrpcStatusError(status.NOT_FOUND, `no block ${Buffer.from(req.by.value).toString("hex")}`);
        return found;
      }
      throw new GrpcStatusError(status.INVALID_ARGUMENT, "GetBlock needs a height or a hash");
    },
    async *getBlocks(req, call) {
      for (const { block } of store.mainChain(req.fromHeight, req.count)) {
        if (call.signal.aborted) return;
        yield { block };
      }
    },
    async putBlocks(req) {
      let outcome;
      try {
        outcome = await d.importer.put(req.blocks, blockBytesAsSent(req));
      } catch (err) {
        if (err instanceof ImportBusyError) throw new GrpcStatusError(status.RESOURCE_EXHAUSTED, err.message);
        throw err;
      }
      d.onPut(outcome);
      return putResponse(store, outcome);
    },
  };
}
