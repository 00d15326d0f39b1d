import type { AddressInfo } from "node:net";

/** What node:net and node:http servers have in common here. */
export interface ListeningServer {
  address(): AddressInfo | string | null;
}

/**
 * The TCP port a listening server is bound to (the one the OS chose, for a
 * listen on port 0). Throws when the server is not listening on TCP: asking
 * before "listening", or of a pipe, is a bug in the caller.
 */
export function listeningPort(server: ListeningServer): number {
  const addr = server.address();
  if (typeof addr !== "object" || addr === null) throw new Error(`the server is not listening on a TCP port (address: ${String(addr)})`);
  return addr.port;
}
