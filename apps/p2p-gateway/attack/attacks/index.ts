import type { Attack } from "../attack.js";
import { banListOverflow } from "./ban-list-overflow.js";
import { EMPTY_FRAME, UNKNOWN_KIND_FRAME } from "../frames.js";
import { bigFrames } from "./big-frames.js";
import { bigTx } from "./big-tx.js";
import { connectFlood } from "./connect-flood.js";
import { control } from "./control.js";
import { frameFlood } from "./frame-flood.js";
import { getBlocksLoop } from "./get-blocks-loop.js";
import { heightClaim } from "./height-claim.js";
import { inboundCrowd } from "./inbound-crowd.js";
import { junkAfterHandshake } from "./junk-after-handshake.js";
import { junkBeforeHandshake } from "./junk-before-handshake.js";
import { peerExchangeWrongPort } from "./peer-exchange-wrong-port.js";
import { pushedInvalidBlocks } from "./pushed-blocks.js";
import { slowloris } from "./slowloris.js";

/**
 * The suite, in the order it runs: the control first, then the cheap
 * attacks, the costly ones last, so what a costly one leaves behind (memory
 * a gateway has not returned yet) does not stand in the next one's row.
 */
export const ATTACKS: readonly Attack[] = [
  control,
  junkBeforeHandshake,
  junkAfterHandshake,
  banListOverflow,
  slowloris,
  inboundCrowd,
  connectFlood,
  peerExchangeWrongPort,
  getBlocksLoop,
  heightClaim,
  pushedInvalidBlocks,
  frameFlood("unknown-kind-flood", "frames of a kind this protocol does not have", UNKNOWN_KIND_FRAME),
  frameFlood("empty-frame-flood", "empty frames", EMPTY_FRAME),
  bigTx,
  bigFrames(false),
  bigFrames(true),
];
