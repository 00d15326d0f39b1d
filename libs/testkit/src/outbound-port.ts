import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { listeningPort } from "@timenet/net-address";

export interface OutboundPort {
  /** The local port the kernel gave the outbound connection (inside its ephemeral range). */
  port: number;
  close(): Promise<void>;
}

/**
 * An open outbound connection from 127.0.0.1 whose local port the kernel
 * chose, as a NATS or gRPC client's: a later listen on 127.0.0.1 and that port
 * fails with EADDRINUSE. It binds no local address on purpose: binding one
 * (`localAddress`) makes libuv set SO_REUSEADDR, and then the listen succeeds.
 */
export async function holdOutboundPort(): Promise<OutboundPort> {
  const host = "127.0.0.1";
  const accepted: Socket[] = [];
  const server = createServer((s) => accepted.push(s));
  server.listen(0, host);
  await once(server, "listening");
  const client = connect({ host, port: listeningPort(server) });
  await once(client, "connect");
  return {
    port: client.localPort ?? 0,
    async close() {
      client.destroy();
      for (const s of accepted) s.destroy();
      server.close();
      await once(server, "close");
    },
  };
}
