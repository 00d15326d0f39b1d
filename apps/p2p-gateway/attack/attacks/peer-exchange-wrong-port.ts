import { createServer, type Server } from "node:net";
import { once } from "node:events";
import { create } from "@bufbuild/protobuf";
import { EnvelopeSchema, PeerAddressSchema, type PeerAddress } from "@timenet/proto";
import type { Attack } from "../attack.js";
import { listeningPort } from "@timenet/net-address";

const SUBNETS = 8;
const ANNOUNCE_EVERY_MS = 500;
const SSH_BANNER = "SSH-2.0-OpenSSH_9.2\r\n";

/** A listener on an honest node's own IP that answers like sshd: the wrong port a peer exchange points at. */
async function sshListener(ip: string): Promise<{ server: Server; ip: string; port: number }> {
  const server = createServer((s) => {
    s.on("error", () => undefined);
    s.end(SSH_BANNER);
  });
  server.listen(0, ip);
  await once(server, "listening");
  return { server, ip, port: listeningPort(server) };
}

/**
 * Established peers from 8 /24s that name every honest node at a port where
 * an SSH server answers (on that node's own IP), in their own IPv4 and
 * IPv4-mapped IPv6 spellings: unsolicited every 500 ms and in answer to
 * every GetPeers. Dialling them there fails; nobody may blame the honest IPs.
 */
export const peerExchangeWrongPort: Attack = {
  name: "peer-exchange-wrong-port",
  description: "Peers naming every honest IP at a port where an SSH server answers, unsolicited every 500 ms and as GetPeers answers, from 8 /24s",
  subnets: SUBNETS,
  async run(ctx) {
    const listeners = await Promise.all(ctx.setup.honestIps.map(sshListener));
    const peers = (): PeerAddress[] =>
      listeners.flatMap((l) => [l.ip, `::ffff:${l.ip}`].map((ip) => create(PeerAddressSchema, { ip, port: l.port, lastSeenMs: BigInt(Date.now()) })));
    try {
      await ctx.peers(SUBNETS, { hello: true, listen: true, retryMs: 500 }, async (p) => {
        while (ctx.running && !p.closed) {
          // Every question from the gateway (the registry's GetPeers) gets the same answer.
          for (const e of p.frames.splice(0)) {
            if (e.payload.case !== "getPeers") continue;
            p.send(create(EnvelopeSchema, { requestId: e.requestId, payload: { case: "peers", value: { peers: peers() } } }));
            ctx.sent.frames++;
          }
          p.send(create(EnvelopeSchema, { payload: { case: "peers", value: { peers: peers() } } }));
          ctx.sent.frames++;
          await ctx.pause(ANNOUNCE_EVERY_MS);
        }
      });
    } finally {
      for (const l of listeners) l.server.close();
    }
  },
};
