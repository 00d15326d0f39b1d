import { toJson, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";

/**
 * The protobuf JSON of a message, for scripts: enums by name, 64-bit ints as
 * strings, and every field present even when it holds its default.
 */
export function jsonValue<S extends DescMessage>(schema: S, message: MessageShape<S>): JsonValue {
  return toJson(schema, message, { alwaysEmitImplicit: true });
}

/** jsonValue as indented text. */
export function jsonText<S extends DescMessage>(schema: S, message: MessageShape<S>): string {
  return JSON.stringify(jsonValue(schema, message), null, 2);
}
