import { ConfigError, operatorPlaneRefusal } from "@timenet/config";
import { loadTlsDir, OperatorTlsError, type OperatorTls } from "@timenet/operator-tls";

/**
 * The TLS of a service's operator plane (gRPC and metrics): none on loopback
 * without a TLS directory; a ConfigError (one line naming the variable) for a
 * listener beyond loopback without one, or for a directory that is not valid.
 */
export function operatorTlsFor(o: { grpcHost: string; metricsHost: string; tlsDir: string | undefined }): OperatorTls | undefined {
  const refusal = operatorPlaneRefusal(
    [
      ["GRPC_HOST", o.grpcHost],
      ["METRICS_HOST", o.metricsHost],
    ],
    o.tlsDir,
  );
  if (refusal) throw ConfigError.refusal(refusal.variable, refusal.host, refusal.message);
  if (!o.tlsDir) return undefined;
  try {
    return loadTlsDir(o.tlsDir);
  } catch (err) {
    if (err instanceof OperatorTlsError) throw ConfigError.refusal("OPERATOR_TLS_DIR", o.tlsDir, `OPERATOR_TLS_DIR=${o.tlsDir}: ${err.message}`);
    throw err;
  }
}
