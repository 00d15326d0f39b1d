import type { MutualTls } from "@timenet/grpc";

/** How timenetctl dials a service: each call's deadline, and the operator's client cert (mutual TLS) if it has one. */
export interface Dial {
  timeoutMs: number;
  /** From --tls-dir, TIMENET_TLS_DIR or the config file; none: plaintext (a node on loopback). */
  tls?: MutualTls | undefined;
}
