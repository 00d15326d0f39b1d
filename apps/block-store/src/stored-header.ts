import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { BlockHeaderSchema, type BlockHeader } from "@timenet/proto";

/**
 * The header of an encoded Block without decoding its transactions: the fork
 * choice and fork-point walks read up to max_reorg_depth headers a put, and a
 * block of 1 MiB of transactions would cost milliseconds each to decode whole.
 */
export function storedHeader(encoded: Uint8Array): BlockHeader | undefined {
  const reader = new BinaryReader(encoded);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1) return fromBinary(BlockHeaderSchema, reader.bytes());
    reader.skip(wireType, fieldNo);
  }
  return undefined;
}
