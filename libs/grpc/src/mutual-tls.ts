import { credentials, ServerCredentials, type ChannelCredentials } from "@grpc/grpc-js";

/** PEM bytes of a TLS directory (see @timenet/operator-tls): the operator CA, this side's cert and key. */
export interface MutualTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Server side: TLS with `tls`'s cert, and a client cert signed by its CA required. */
export function serverCredentials(tls: MutualTls | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true);
}

/** Client side: the server must present a cert of `tls`'s CA; ours is presented as the client cert. */
export function channelCredentials(tls: MutualTls | undefined): ChannelCredentials {
  return tls ? credentials.createSsl(tls.ca, tls.key, tls.cert) : credentials.createInsecure();
}
