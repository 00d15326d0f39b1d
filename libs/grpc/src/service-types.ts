import type { Metadata } from "@grpc/grpc-js";
import type { DescMessage, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";

export interface CallContext {
  peer: string;
  metadata: Metadata;
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
}

type Out<O extends DescMessage> = MessageShape<O> | MessageInitShape<O>;

type Handler<M> = M extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? (req: MessageShape<I>, call: CallContext) => Promise<Out<O>> | Out<O>
  : M extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (req: MessageShape<I>, call: CallContext) => AsyncIterable<Out<O>>
    : never;

type MethodsOf<S> = S extends GenService<infer T extends GenServiceMethods> ? T : Record<string, never>;

/** One handler per method, keyed by the method's localName (e.g. listConnections). */
export type ServiceImpl<S extends DescService> = { [K in keyof MethodsOf<S>]: Handler<MethodsOf<S>[K]> };

type ClientMethod<M> = M extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? (req: MessageInitShape<I>, opts?: { deadlineMs?: number }) => Promise<MessageShape<O>>
  : M extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (req: MessageInitShape<I>, opts?: { deadlineMs?: number }) => AsyncIterable<MessageShape<O>>
    : never;

export type ServiceClient<S extends DescService> = { [K in keyof MethodsOf<S>]: ClientMethod<MethodsOf<S>[K]> } & { close(): void };
