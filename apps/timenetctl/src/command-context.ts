import type { Peer } from "@timenet/proto";
import { CliError, ExitCode } from "./cli-error.js";
import type { RegistryClient } from "./registry-client.js";

/** What every command gets; a command returns the text to print. */
export interface CommandContext {
  registry: RegistryClient;
  /** Options of every call (its deadline). */
  call: { deadlineMs: number };
  /** Print the protobuf JSON of the answer instead of text. */
  json: boolean;
  now(): number;
}

/** The peer of a response that must carry one. */
export function answeredPeer(peer: Peer | undefined): Peer {
  if (!peer) throw new CliError("peer-registry answered without a peer", ExitCode.failure);
  return peer;
}
