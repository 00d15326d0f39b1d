export { FrameError, type FrameErrorCode } from "./frame-error.js";
export { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FRAME_HEADER_BYTES, FrameDecoder, type DecodedFrame } from "./frame-codec.js";
export { ENVELOPE_KINDS, envelopeKindLabel, snake, type EnvelopeKind } from "./envelope-kind.js";
