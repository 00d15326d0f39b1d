import type { BlockHeader } from "@timenet/proto";
import { bytesEqual } from "./block-hash.js";

/** Whether a block with this header is the child of `tip`: the next height, on top of the tip's hash. */
export function extendsTip(header: BlockHeader, tip: { height: number; hash: Uint8Array }): boolean {
  return header.height === tip.height + 1 && bytesEqual(header.prevHash, tip.hash);
}
