export { FrameError, type FrameErrorCode } from "./frame-error.js";
export {
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  encodedFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  type DecodedFrame,
  type ForwardedFrame,
  type FrameAdmission,
  type FrameSink,
  type FrameVerdict,
} from "./frame-codec.js";
export { ENVELOPE_HEAD_BYTES, peekEnvelopeHead, VarintReader, type EnvelopeHead } from "./envelope-head.js";
export { checkShape, type ShapeLimit } from "./message-shape.js";
export { encodeVarint, lengthDelimitedBytes, varintLength, writeVarint } from "./varint.js";
export { ENVELOPE_KINDS, envelopeKindLabel, kindLabel, snake, type EnvelopeKind } from "./envelope-kind.js";
export { envelopeRuleViolation, FIELD_LIMITS } from "./envelope-rules.js";
export { fieldSlices } from "./field-slices.js";
export { encodedEnvelope, isEncodedEnvelope, type EncodedEnvelope } from "./encoded-envelope.js";
export { repeatedEmbeddedField, withEmbeddedField } from "./embedded-field.js";
export { announcementFromPrefix } from "./new-block-announcement.js";
export { blocksEntryBytes, blocksEnvelopeLength, encodeBlocksEnvelope, writeBlocksEnvelope } from "./blocks-envelope.js";
