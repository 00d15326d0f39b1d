import type { ServiceDefinition } from "@grpc/grpc-js";
import { fromBinary, toBinary, type DescMessage, type DescService } from "@bufbuild/protobuf";

function serializer(schema: DescMessage) {
  return (msg: unknown) => Buffer.from(toBinary(schema, msg as never));
}

function deserializer(schema: DescMessage) {
  return (bytes: Buffer) => fromBinary(schema, bytes);
}

/**
 * Request decoders by method (local name) that replace the default
 * fromBinary: for a server that wants more from the bytes than the message
 * (the block-store keeps each block's bytes as sent). Each must decode the
 * same message the default would.
 */
export type RequestDecoders = Partial<Record<string, (bytes: Buffer) => unknown>>;

/**
 * Request encoders by method (local name) that replace the default toBinary:
 * for a client that holds parts of the request already encoded (chain-sync
 * sends blocks as a peer sent them). Each must write bytes that decode to the
 * message given.
 */
export type RequestEncoders = Partial<Record<string, (msg: never) => Buffer>>;

/** A grpc-js ServiceDefinition for a protobuf-es service: the same paths and bytes as any other gRPC stack. */
export function toServiceDefinition(service: DescService, decoders: RequestDecoders = {}, encoders: RequestEncoders = {}): ServiceDefinition {
  const def: Record<string, ServiceDefinition[string]> = {};
  for (const m of service.methods) {
    def[m.localName] = {
      path: `/${service.typeName}/${m.name}`,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      requestSerialize: (encoders[m.localName] as ((msg: unknown) => Buffer) | undefined) ?? serializer(m.input),
      requestDeserialize: decoders[m.localName] ?? deserializer(m.input),
      responseSerialize: serializer(m.output),
      responseDeserialize: deserializer(m.output),
      originalName: m.name,
    };
  }
  return def;
}
