import { connect, createServer, type Socket } from "node:net";
import { freePort } from "./free-port.js";

export interface TcpRelayOptions {
  /** Where every accepted connection is relayed to. */
  target: { host: string; port: number };
  /** Listen address. Default 127.0.0.1 (on a free port). */
  host?: string;
}

export interface TcpRelay {
  readonly host: string;
  readonly port: number;
  readonly paused: boolean;
  /**
   * Stops moving bytes in both directions on every connection (and on new
   * ones) until resume: what was sent is held, not lost, like a path that
   * stalls. The connections stay open.
   */
  pause(): void;
  resume(): void;
  /** Closes the listener and every relayed connection. */
  stop(): Promise<void>;
}

/**
 * A TCP relay between a client and a real server, so a test can play the
 * network between them (a stall now) with both ends unchanged.
 */
export async function startTcpRelay(o: TcpRelayOptions): Promise<TcpRelay> {
  const host = o.host ?? "127.0.0.1";
  const sockets = new Set<Socket>();
  let paused = false;
  const track = (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    s.on("error", () => undefined); // the other side is closed with it below
    if (paused) s.pause();
  };
  const server = createServer((client) => {
    const upstream = connect(o.target.port, o.target.host);
    track(client);
    track(upstream);
    // Reading stops while paused (socket.pause), so bytes wait in the buffers, in order.
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => client.write(chunk));
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  });
  const port = await freePort(host);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    host,
    port,
    get paused() {
      return paused;
    },
    pause() {
      paused = true;
      for (const s of sockets) s.pause();
    },
    resume() {
      paused = false;
      for (const s of sockets) s.resume();
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
