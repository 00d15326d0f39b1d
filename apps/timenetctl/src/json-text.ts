import { toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";

/**
 * The protobuf JSON of a response, for scripts: enums by name, 64-bit ints as
 * strings, and every field present even when it holds its default.
 */
export function jsonText<S extends DescMessage>(schema: S, message: MessageShape<S>): string {
  return JSON.stringify(toJson(schema, message, { alwaysEmitImplicit: true }), null, 2);
}
