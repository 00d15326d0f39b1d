import { makeGenericClientConstructor, Metadata, type Client, type ServiceError } from "@grpc/grpc-js";
import type { DescService } from "@bufbuild/protobuf";
import { create, type DescMessage } from "@bufbuild/protobuf";
import { toServiceDefinition, type RequestEncoders } from "./service-definition.js";
import { MESSAGE_SIZE_OPTIONS } from "./message-size.js";
import type { ServiceClient } from "./service-types.js";
import { channelCredentials, type MutualTls } from "./mutual-tls.js";

export interface GrpcClientOptions {
  /** Mutual TLS: verify the server against `tls.ca` and present `tls.cert`. Default none (plaintext). */
  tls?: MutualTls;
  /** Encoders that replace toBinary for some methods' requests (see RequestEncoders). Default none. */
  encoders?: RequestEncoders;
}

/** A typed client: unary methods return promises, server-streaming ones async iterables. Errors carry `.code` (gRPC status). */
export function createGrpcClient<S extends DescService>(service: S, address: string, opts: GrpcClientOptions = {}): ServiceClient<S> {
  const Ctor = makeGenericClientConstructor(toServiceDefinition(service, {}, opts.encoders), service.typeName);
  const client = new Ctor(address, channelCredentials(opts.tls), MESSAGE_SIZE_OPTIONS) as Client & Record<string, (...args: unknown[]) => unknown>;
  const out: Record<string, unknown> = { close: () => client.close() };
  for (const m of service.methods) {
    const deadline = (opts?: { deadlineMs?: number }) => ({ deadline: Date.now() + (opts?.deadlineMs ?? 5_000) });
    const msg = (schema: DescMessage, init: unknown) => create(schema, init as never);
    if (m.methodKind === "unary") {
      out[m.localName] = (req: unknown, opts?: { deadlineMs?: number }) =>
        new Promise((resolve, reject) => {
          client[m.localName]!(msg(m.input, req), new Metadata(), deadline(opts), (err: ServiceError | null, res: unknown) =>
            err ? reject(err) : resolve(res),
          );
        });
    } else if (m.methodKind === "server_streaming") {
      out[m.localName] = (req: unknown, opts?: { deadlineMs?: number }) =>
        client[m.localName]!(msg(m.input, req), new Metadata(), deadline(opts)) as AsyncIterable<unknown>;
    }
  }
  return out as ServiceClient<S>;
}
