import type { Registry } from "prom-client";
import { Bus, busLogHooks } from "@timenet/bus";
import { startGrpcServer, type ServiceImpl } from "@timenet/grpc";
import { createLogger, createRegistry, startTelemetryServer, type Logger, type ReadinessCheck } from "@timenet/telemetry";
import type { DescService } from "@bufbuild/protobuf";
import { CleanupStack } from "./cleanup-stack.js";
import type { ResolvedServiceEndpoints } from "./service-endpoints.js";

/**
 * The parts every service has: its logger, its own metrics registry, its
 * cleanup stack, and (once opened) its NATS connection; `serve` then starts
 * its gRPC API (with health and reflection) and its /metrics /healthz /readyz.
 */
export class ServiceFrame {
  readonly logger: Logger;
  readonly registry: Registry;
  readonly cleanups = new CleanupStack();
  grpcPort = 0;
  metricsPort = 0;

  constructor(
    readonly service: string,
    private readonly o: ResolvedServiceEndpoints,
  ) {
    this.logger = o.logger ?? createLogger({ service, node: o.node, level: o.logLevel });
    this.registry = createRegistry({ service, node: o.node });
  }

  /** Connects to the node's NATS; closed on stop. */
  async connectBus(name = `${this.service}-${this.o.node}`): Promise<Bus> {
    const bus = await Bus.connect({ servers: this.o.natsUrl, name, user: this.o.natsUser, pass: this.o.natsPass, ...busLogHooks(this.logger) });
    this.cleanups.push(() => bus.close());
    return bus;
  }

  /** Starts the gRPC API and the telemetry server; both stop on stop. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of different services
  async serve(services: Array<{ service: DescService; impl: ServiceImpl<any> }>, readiness: ReadinessCheck[]): Promise<void> {
    const grpc = await startGrpcServer({ host: this.o.grpcHost, port: this.o.grpcPort, services, logger: this.logger });
    this.cleanups.push(() => grpc.stop());
    this.grpcPort = grpc.port;
    const telemetry = await startTelemetryServer({ host: this.o.metricsHost, port: this.o.metricsPort, registry: this.registry, logger: this.logger, readiness });
    this.cleanups.push(() => telemetry.stop());
    this.metricsPort = telemetry.port;
  }

  /**
   * The skeleton of every service's start(): a frame for `service`, the body
   * that opens its parts (each pushing its cleanup), and on a failed start
   * every cleanup run before the error is rethrown.
   */
  static async start<T>(service: string, o: ResolvedServiceEndpoints, body: (frame: ServiceFrame) => Promise<T>): Promise<T> {
    const frame = new ServiceFrame(service, o);
    try {
      return await body(frame);
    } catch (err) {
      await frame.cleanups.run().catch((cleanupErr: unknown) => frame.logger.error({ err: cleanupErr }, "cleanup after a failed start failed"));
      throw err;
    }
  }

  /** The one "started" line: where the API and metrics listen, and what the service adds. */
  started(fields: Record<string, unknown>): void {
    this.logger.info({ grpc: this.grpcPort, metrics: this.metricsPort, ...fields }, `${this.service} started`);
  }

  /** Runs every cleanup, in reverse (also after a failed start). */
  async stop(): Promise<void> {
    this.logger.info(`${this.service} stopping`);
    await this.cleanups.run();
    this.logger.info(`${this.service} stopped`);
  }
}
