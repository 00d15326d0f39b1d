// The gateway's side of serving, for the tests: publishes peers' GetBlocks on
// p2p.in.get_blocks and records the answers published on p2p.out.send.
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { PeerMessageSchema, SendToPeerSchema, Subjects, type Blocks, type SendToPeer } from "@timenet/proto";
import type { Bus } from "@timenet/bus";
import { waitFor } from "@timenet/testkit";

export interface PeerAsker {
  /** Every answer so far, by request id. */
  readonly replies: Map<number, SendToPeer>;
  /** Publishes a GetBlocks; returns its request id. */
  send(peerIp: string, fromHeight: number, count: number, connId?: number): number;
  /** The answer to request `id` (waits for it); the reply must go back to the peer and connection it came from. */
  answer(id: number, peerIp: string, connId?: number): Promise<Blocks>;
  /** Sends a GetBlocks and waits for its answer. */
  ask(peerIp: string, fromHeight: number, count: number, connId?: number): Promise<Blocks>;
}

export async function peerAsker(bus: Bus): Promise<PeerAsker> {
  const replies = new Map<number, SendToPeer>();
  bus.connection.subscribe(Subjects.peerOutSend, {
    callback: (_err, m) => {
      const r = fromBinary(SendToPeerSchema, m.data);
      replies.set(r.envelope!.requestId, r);
    },
  });
  await bus.flush();
  let nextId = 1000;
  const asker: PeerAsker = {
    replies,
    send(peerIp, fromHeight, count, connId = 42) {
      const requestId = nextId++;
      bus.publish(Subjects.peerIn("get_blocks"), PeerMessageSchema, {
        peerIp,
        connId,
        envelope: { requestId, payload: { case: "getBlocks", value: { fromHeight, count } } },
      });
      return requestId;
    },
    async answer(id, peerIp, connId = 42) {
      const reply = await waitFor(() => replies.get(id), { message: `reply to request ${id}` });
      assert.equal(reply.peerIp, peerIp);
      assert.equal(reply.connId, connId, "the reply goes out on the connection the request came in on");
      const payload = reply.envelope!.payload;
      if (payload.case !== "blocks") throw new Error(`reply ${id} is ${payload.case}, not blocks`);
      return payload.value;
    },
    ask(peerIp, fromHeight, count, connId = 42) {
      return asker.answer(asker.send(peerIp, fromHeight, count, connId), peerIp, connId);
    },
  };
  return asker;
}
