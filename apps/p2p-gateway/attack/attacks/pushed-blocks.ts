import { randomBytes } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { blockHash } from "@timenet/chain";
import { BlockHeaderSchema, BlockSchema, EnvelopeSchema } from "@timenet/proto";
import { encodeFrame, FIELD_LIMITS } from "@timenet/wire";
import { increase, type Attack } from "../attack.js";

const SUBNETS = 8;
/** A transaction that fills a pushed block to just under the protocol's 64 KiB. */
const TX_BYTES = FIELD_LIMITS.pushedBlockBytes - 1024;

/**
 * Blocks pushed with their announcement (NewBlock.block), each the next
 * block on the victim's tip (from its Hello), as large as a push may be,
 * with a random producer and signature: each is a new block and the one its
 * NewBlock names, so the gateway lets it on, chain-sync puts it and the
 * store refuses it. Back to back from 8 /24s.
 */
export const pushedInvalidBlocks: Attack = {
  name: "pushed-invalid-blocks",
  description: "NewBlock carrying a 63 KiB block on the victim's tip with a forged signature, fresh each time, back to back, from 8 /24s",
  subnets: SUBNETS,
  async run(ctx) {
    const tx = randomBytes(TX_BYTES);
    await ctx.peers(SUBNETS, { hello: true, listen: true }, async (p) => {
      // The victim's tip, from the Hello its handshake message carried.
      const hello = p.gatewayHello;
      ctx.deaf(p);
      while (ctx.running && !p.socket.destroyed) {
        const header = create(BlockHeaderSchema, {
          height: hello.bestHeight + 1,
          prevHash: hello.bestHash,
          merkleRoot: randomBytes(32),
          timestampMs: BigInt(Date.now()),
          producerId: randomBytes(32),
          signature: randomBytes(64),
        });
        const block = toBinary(BlockSchema, create(BlockSchema, { header, txs: [tx] }));
        const frame = encodeFrame(create(EnvelopeSchema, { payload: { case: "newBlock", value: { height: header.height, hash: blockHash(header), header, block } } }));
        if (await ctx.seal(p, frame)) ctx.sent.frames++;
      }
    });
  },
  verify(victims, sample) {
    const broken: string[] = [];
    const seen: string[] = [];
    for (const v of victims) {
      const invalid = increase(sample, v, "registry", "timenet_registry_offences_total", { kind: "invalid_block" });
      const pushedOff = increase(sample, v, "gateway", "timenet_gateway_gossip_total", { kind: "new_block", result: "push_not_next" });
      // Those not banned yet (their pushes beyond the put slots, or off the tip once it moved, are blameless) are held by the node's byte budget.
      const held = increase(sample, v, "gateway", "timenet_gateway_read_pauses_total", { budget: "node" });
      seen.push(`n${v.node}: ${invalid} invalid_block offences, ${pushedOff} pushes not on its tip, ${held} reads held by the node's byte budget`);
      if (invalid === 0) broken.push(`n${v.node}: no pushed block reached its store (no invalid_block offence): the attack proved nothing`);
    }
    return { broken, seen: seen.join("; ") };
  },
};
