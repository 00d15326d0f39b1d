import { Counter, type Registry } from "prom-client";
import { Bus, busLogHooks } from "@timenet/bus";
import { checkNatsCredentials } from "@timenet/config";
import { startGrpcServer, type RequestDecoders, type ServiceImpl } from "@timenet/grpc";
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
  private bus: Bus | undefined;

  constructor(
    readonly service: string,
    private readonly o: ResolvedServiceEndpoints,
  ) {
    this.logger = o.logger ?? createLogger({ service, node: o.node, level: o.logLevel });
    this.registry = createRegistry({ service, node: o.node });
  }

  /**
   * Connects to the node's NATS; closed on stop. Credentials that break
   * checkNatsCredentials' rule (a placeholder, short or empty password; no
   * user for a NATS beyond loopback) throw a ConfigError first: runMain's one
   * line and exit 2.
   */
  async connectBus(name = `${this.service}-${this.o.node}`): Promise<Bus> {
    checkNatsCredentials({ url: this.o.natsUrl, user: this.o.natsUser, pass: this.o.natsPass });
    const hooks = busLogHooks(this.logger);
    // A refusal by the server means the permission table and the service disagree: loud in logs and counted.
    const refused = new Counter({
      name: "timenet_nats_permission_violations_total",
      help: "Publishes and subscriptions the NATS server refused to this service's user",
      labelNames: ["operation"],
      registers: [this.registry],
    });
    // A watch deaf for a while (its consumer lost, its read ended and begun again) is counted, not only logged.
    const watchEvents = new Counter({
      name: "timenet_nats_state_watch_events_total",
      help: "Changes in how this service's state watches read: consumer lost or recreated, read ended and begun again (by watch and event)",
      labelNames: ["watch", "event"],
      registers: [this.registry],
    });
    // An owned bucket found deleted or replaced, and written back whole: an operator's or a NATS store's doing.
    const recreated = new Counter({
      name: "timenet_nats_state_buckets_recreated_total",
      help: "Owned state buckets found deleted (created again) or replaced by another stream, and written back whole (by bucket and how)",
      labelNames: ["bucket", "how"],
      registers: [this.registry],
    });
    const bus = await Bus.connect({
      servers: this.o.natsUrl,
      name,
      user: this.o.natsUser,
      pass: this.o.natsPass,
      ...hooks,
      onStateReadStatus: (watch, status) => {
        watchEvents.inc({ watch, event: status.type });
        hooks.onStateReadStatus?.(watch, status);
      },
      onStateBucketRecreated: (bucket, how, entries) => {
        recreated.inc({ bucket, how });
        hooks.onStateBucketRecreated?.(bucket, how, entries);
      },
      onPermissionError: (operation, subject, err) => {
        refused.inc({ operation });
        hooks.onPermissionError?.(operation, subject, err);
      },
    });
    this.cleanups.push(() => bus.close());
    this.bus = bus;
    return bus;
  }

  /** Starts the gRPC API and the telemetry server (once the subscriptions made so far are on the server); both stop on stop. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of different services
  async serve(services: Array<{ service: DescService; impl: ServiceImpl<any>; decoders?: RequestDecoders }>, readiness: ReadinessCheck[]): Promise<void> {
    // A subscription is live once the server has read its SUB, which travels
    // on our connection while others publish on theirs: without this round
    // trip a message sent right after the service says it started (an
    // offence to the registry) can reach the server first and be lost.
    await this.bus?.flush();
    const grpc = await startGrpcServer({ host: this.o.grpcHost, port: this.o.grpcPort, services, logger: this.logger, tls: this.o.tls });
    this.cleanups.push(() => grpc.stop());
    this.grpcPort = grpc.port;
    const telemetry = await startTelemetryServer({
      host: this.o.metricsHost,
      port: this.o.metricsPort,
      registry: this.registry,
      logger: this.logger,
      readiness,
      tls: this.o.tls,
    });
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
    this.logger.info({ grpc: this.grpcPort, metrics: this.metricsPort, operatorTls: this.o.tls?.dir ?? false, ...fields }, `${this.service} started`);
  }

  /** Runs every cleanup, in reverse (also after a failed start). */
  async stop(): Promise<void> {
    this.logger.info(`${this.service} stopping`);
    await this.cleanups.run();
    this.logger.info(`${this.service} stopped`);
  }
}
