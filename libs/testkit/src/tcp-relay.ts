import { connect, createServer, type Socket } from "node:net";
import { freePort } from "./free-port.js";

export type RelayDirection = "up" | "down";

/** One relayed connection: "up" is client to server, "down" server to client. */
export interface RelayLink {
  readonly id: number;
  /** Either side has closed. */
  readonly closed: boolean;
  /** Every byte relayed so far, per direction, as forwarded (when `capture` is on). */
  readonly captured: Record<RelayDirection, Buffer[]>;
  /** Writes bytes of our own into the stream, as an on-path attacker would. */
  inject(dir: RelayDirection, bytes: Uint8Array): void;
  /** Ends both sides. */
  close(): void;
}

export interface TcpRelayOptions {
  /** Where every accepted connection is relayed to. */
  target: { host: string; port: number };
  /** Listen address. Default 127.0.0.1. */
  host?: string;
  /** Listen port. Default: a free one. */
  port?: number;
  /** Source address of the upstream sockets (the server then sees this address, e.g. the real client's). */
  upstreamLocalAddress?: string;
  /** Keeps every relayed byte in `RelayLink.captured`. */
  capture?: boolean;
  /**
   * Sees each chunk before it is forwarded and returns what to forward
   * instead (an empty buffer drops it), or undefined to forward it as is:
   * the on-path attacker's hand.
   */
  onChunk?: (chunk: Buffer, dir: RelayDirection, link: RelayLink) => Buffer | undefined;
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
  /** Every connection relayed so far, in accept order. */
  readonly links: readonly RelayLink[];
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
  const links: RelayLink[] = [];
  const server = createServer((client) => {
    const upstream = connect({ port: o.target.port, host: o.target.host, localAddress: o.upstreamLocalAddress });
    track(client);
    track(upstream);
    const captured: Record<RelayDirection, Buffer[]> = { up: [], down: [] };
    const to = (dir: RelayDirection) => (dir === "up" ? upstream : client);
    let closed = false;
    const link: RelayLink = {
      id: links.length,
      get closed() {
        return closed;
      },
      captured,
      inject: (dir, bytes) => {
        if (o.capture) captured[dir].push(Buffer.from(bytes));
        to(dir).write(bytes);
      },
      close: () => {
        client.destroy();
        upstream.destroy();
      },
    };
    links.push(link);
    const forward = (dir: RelayDirection) => (chunk: Buffer) => {
      const out = o.onChunk?.(chunk, dir, link) ?? chunk;
      if (out.length === 0) return;
      if (o.capture) captured[dir].push(out);
      to(dir).write(out);
    };
    // Reading stops while paused (socket.pause), so bytes wait in the buffers, in order.
    client.on("data", forward("up"));
    upstream.on("data", forward("down"));
    client.once("close", () => {
      closed = true;
      upstream.destroy();
    });
    upstream.once("close", () => {
      closed = true;
      client.destroy();
    });
  });
  const port = o.port ?? (await freePort(host));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    host,
    port,
    links,
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
