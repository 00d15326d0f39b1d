import { connect, createServer, type Socket } from "node:net";

export interface DelayRelay {
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * A TCP relay that holds every chunk for `oneWayMs` in each direction, in
 * order: a round trip of 2 × oneWayMs between two loopback ends (the
 * kernel here has no netem). Upstream sockets leave from `upstreamLocalAddress`
 * so the server sees the relay's address as the peer's.
 */
export interface DelayRelayOptions {
  host: string;
  port: number;
  target: { host: string; port: number };
  oneWayMs: number;
  upstreamLocalAddress: string;
}

export async function startDelayRelay(o: DelayRelayOptions): Promise<DelayRelay> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    s.on("error", () => undefined);
  };
  const pipe = (from: Socket, to: Socket) => {
    from.on("data", (chunk: Buffer) => {
      // Timers of one duration fire in the order they were set: the stream stays in order.
      if (o.oneWayMs <= 0) to.write(chunk);
      else setTimeout(() => to.destroyed || to.write(chunk), o.oneWayMs);
    });
    from.once("close", () => (o.oneWayMs <= 0 ? to.destroy() : setTimeout(() => to.destroy(), o.oneWayMs)));
  };
  // No Nagle on either side: a router forwards each packet as it comes, it never holds a small one back
  // for the ACK of the one before (with the receiver's delayed ACK that stalls a round for up to 40 ms).
  const server = createServer({ noDelay: true }, (client) => {
    const upstream = connect({ ...o.target, localAddress: o.upstreamLocalAddress, noDelay: true });
    track(client);
    track(upstream);
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    host: o.host,
    port: o.port,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
