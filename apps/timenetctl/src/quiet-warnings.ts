/**
 * grpc-js sets the TLS server name to the target even when it is an IP, and
 * Node warns about that (DEP0123) on the first such dial: noise on the
 * operator's terminal, and a name check still happens against the IP SANs.
 */
export function silenceIpServernameWarning(): void {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    if (args.includes("DEP0123")) return;
    emit(...args);
  }) as typeof process.emitWarning;
}
