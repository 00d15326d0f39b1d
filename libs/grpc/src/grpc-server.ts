import { Server, status, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { create, isMessage, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { HealthImplementation } from "grpc-health-check";
import { ReflectionService } from "@grpc/reflection";
import { toServiceDefinition, type RequestDecoders } from "./service-definition.js";
import { MESSAGE_SIZE_OPTIONS } from "./message-size.js";
import { reflectionPackage } from "./reflection.js";
import { GrpcStatusError } from "./status-error.js";
import { listenConflictHint } from "@timenet/net-address";
import { serverCredentials, type MutualTls } from "./mutual-tls.js";
import type { CallContext, ServiceImpl } from "./service-types.js";

export interface GrpcLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface GrpcServerOptions {
  /** Default "127.0.0.1": operator APIs are not for the internet. */
  host?: string;
  /** 0 = ephemeral. */
  port: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of different services
  services: Array<{ service: DescService; impl: ServiceImpl<any>; decoders?: RequestDecoders }>;
  logger?: GrpcLogger;
  /** Mutual TLS: serve TLS and require a client cert signed by `tls.ca`. Default none (plaintext: loopback only). */
  tls?: MutualTls;
}

export interface GrpcServerHandle {
  readonly port: number;
  readonly address: string;
  /** Flips the health of "" and every service between SERVING and NOT_SERVING. */
  setServing(serving: boolean): void;
  stop(): Promise<void>;
}

/** Serves protobuf-es services with grpc-js, plus grpc.health.v1 and server reflection (v1 and v1alpha). */
export async function startGrpcServer(opts: GrpcServerOptions): Promise<GrpcServerHandle> {
  const host = opts.host ?? "127.0.0.1";
  const server = new Server(MESSAGE_SIZE_OPTIONS);
  const names = ["", ...opts.services.map((s) => s.service.typeName)];
  const health = new HealthImplementation(Object.fromEntries(names.map((n) => [n, "SERVING" as const])));
  health.addToServer(server);
  new ReflectionService(reflectionPackage(opts.services.map((s) => s.service))).addToServer(server);
  for (const { service, impl, decoders } of opts.services) {
    server.addService(toServiceDefinition(service, decoders), implementation(service, impl as Record<string, unknown>, opts.logger));
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${opts.port}`, serverCredentials(opts.tls), (err, p) =>
      err ? reject(new Error(`cannot bind gRPC on ${host}:${opts.port}: ${err.message}${listenConflictHint(err, opts.port)}`)) : resolve(p),
    );
  });
  let stopped: Promise<void> | undefined;
  return {
    port,
    address: `${host}:${port}`,
    setServing(serving) {
      for (const n of names) health.setStatus(n, serving ? "SERVING" : "NOT_SERVING");
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        for (const n of names) health.setStatus(n, "NOT_SERVING");
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return stopped;
    },
  };
}

function implementation(service: DescService, impl: Record<string, unknown>, logger?: GrpcLogger): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const m of service.methods) {
    const handler = impl[m.localName] as ((req: unknown, call: CallContext) => unknown) | undefined;
    if (!handler) {
      out[m.localName] = (_call: unknown, callback: sendUnaryData<unknown>) =>
        callback({ code: status.UNIMPLEMENTED, details: `${service.typeName}/${m.name} is not implemented` }, null);
      continue;
    }
    if (m.methodKind === "unary") out[m.localName] = unary(m, handler, logger);
    else if (m.methodKind === "server_streaming") out[m.localName] = serverStreaming(m, handler, logger);
    else throw new Error(`${service.typeName}/${m.name}: ${m.methodKind} methods are not supported`);
  }
  return out;
}

function context(call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>): CallContext {
  const ac = new AbortController();
  call.on("cancelled", () => ac.abort());
  return { peer: call.getPeer(), metadata: call.metadata, signal: ac.signal };
}

function toMessage(schema: DescMessage, value: unknown): unknown {
  return isMessage(value, schema) ? value : create(schema, value as never);
}

function toStatus(m: DescMethod, err: unknown, logger?: GrpcLogger): { code: status; details: string } {
  if (err instanceof GrpcStatusError) return { code: err.code, details: err.message };
  logger?.error({ err, method: m.name }, "gRPC handler failed");
  return { code: status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

function unary(m: DescMethod, handler: (req: unknown, call: CallContext) => unknown, logger?: GrpcLogger) {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    Promise.resolve()
      .then(() => handler(call.request, context(call)))
      .then(
        (res) => callback(null, toMessage(m.output, res)),
        (err: unknown) => callback(toStatus(m, err, logger), null),
      );
  };
}

function serverStreaming(m: DescMethod, handler: (req: unknown, call: CallContext) => unknown, logger?: GrpcLogger) {
  return (call: ServerWritableStream<unknown, unknown>) => {
    const ctx = context(call);
    void (async () => {
      try {
        for await (const item of handler(call.request, ctx) as AsyncIterable<unknown>) {
          if (ctx.signal.aborted) return;
          if (!call.write(toMessage(m.output, item))) await new Promise((r) => call.once("drain", r));
        }
        call.end();
      } catch (err) {
        call.destroy(Object.assign(new Error(), toStatus(m, err, logger)));
      }
    })();
  };
}
