import type { BlockHeader, Envelope, Hello } from "@timenet/proto";

/**
 * Field constraints of every message a peer sends, in one place (what
 * buf.validate annotations would declare in proto/): exact hash and key
 * lengths, bounded strings. Sizes of whole messages and counts of repeated
 * fields are priced before decoding (see the gateway's frame policy); these
 * rules run on the decoded envelope, before anything reads it (a Blocks
 * answer, which the gateway carries on undecoded, in chain-sync).
 */
export const FIELD_LIMITS = {
  hashBytes: 32,
  nodeIdBytes: 32,
  signatureBytes: 64,
  nonceBytes: 16,
  sessionIdBytes: 16,
  /** Characters of Hello.network. */
  networkChars: 64,
  /** Characters of Hello.software_version (`git describe` fits many times over). */
  softwareVersionChars: 64,
  /** Characters of an IP address in text (the longest IPv6 form is 45). */
  ipChars: 45,
  /** Characters of Goodbye.message: a reason for a log line, not a document. */
  goodbyeChars: 256,
  /**
   * Bytes of a block pushed with its announcement (NewBlock.block). Small
   * blocks gain most from skipping the round trip of a GetBlocks; a larger
   * one is only announced, so an announcement never costs a peer more than
   * this unasked.
   */
  pushedBlockBytes: 64 * 1024,
} as const;

/** Returns why the envelope breaks a field rule, or undefined when it keeps them all. */
export function envelopeRuleViolation(env: Envelope): string | undefined {
  const p = env.payload;
  switch (p.case) {
    case "hello":
      return helloViolation(p.value);
    case "helloAck":
      return exact("hello_ack.signature", p.value.signature, FIELD_LIMITS.signatureBytes);
    case "goodbye":
      return p.value.message.length > FIELD_LIMITS.goodbyeChars ? `goodbye.message longer than ${FIELD_LIMITS.goodbyeChars} characters` : undefined;
    case "newBlock":
      if (p.value.block.length > FIELD_LIMITS.pushedBlockBytes) return `new_block.block longer than ${FIELD_LIMITS.pushedBlockBytes} bytes`;
      return exact("new_block.hash", p.value.hash, FIELD_LIMITS.hashBytes) ?? (p.value.header ? headerViolation("new_block.header", p.value.header) : undefined);
    case "blocks":
      for (const [i, b] of p.value.blocks.entries()) {
        if (!b.header) return `blocks[${i}] has no header`;
        const v = headerViolation(`blocks[${i}].header`, b.header);
        if (v) return v;
      }
      return undefined;
    case "peers":
      for (const [i, a] of p.value.peers.entries()) {
        if (a.ip.length > FIELD_LIMITS.ipChars) return `peers[${i}].ip longer than ${FIELD_LIMITS.ipChars} characters`;
        if (a.port > 65535) return `peers[${i}].port ${a.port} is not a port`;
      }
      return undefined;
    default:
      return undefined;
  }
}

function helloViolation(h: Hello): string | undefined {
  if (h.network.length > FIELD_LIMITS.networkChars) return `hello.network longer than ${FIELD_LIMITS.networkChars} characters`;
  if (h.softwareVersion.length > FIELD_LIMITS.softwareVersionChars) return `hello.software_version longer than ${FIELD_LIMITS.softwareVersionChars} characters`;
  if (h.observedIp.length > FIELD_LIMITS.ipChars) return `hello.observed_ip longer than ${FIELD_LIMITS.ipChars} characters`;
  if (h.listenPort > 65535) return `hello.listen_port ${h.listenPort} is not a port`;
  return (
    exact("hello.genesis_hash", h.genesisHash, FIELD_LIMITS.hashBytes) ??
    exact("hello.best_hash", h.bestHash, FIELD_LIMITS.hashBytes) ??
    exact("hello.node_id", h.nodeId, FIELD_LIMITS.nodeIdBytes) ??
    exact("hello.nonce", h.nonce, FIELD_LIMITS.nonceBytes) ??
    exact("hello.session_id", h.sessionId, FIELD_LIMITS.sessionIdBytes) ??
    exact("hello.signature", h.signature, FIELD_LIMITS.signatureBytes)
  );
}

function headerViolation(path: string, h: BlockHeader): string | undefined {
  return (
    exact(`${path}.prev_hash`, h.prevHash, FIELD_LIMITS.hashBytes) ??
    exact(`${path}.merkle_root`, h.merkleRoot, FIELD_LIMITS.hashBytes) ??
    exact(`${path}.producer_id`, h.producerId, FIELD_LIMITS.nodeIdBytes) ??
    // Genesis is unsigned (an empty signature); every other header carries one.
    (h.height === 0 && h.signature.length === 0 ? undefined : exact(`${path}.signature`, h.signature, FIELD_LIMITS.signatureBytes))
  );
}

function exact(path: string, b: Uint8Array, n: number): string | undefined {
  return b.length === n ? undefined : `${path} is ${b.length} bytes, not ${n}`;
}
