import { devnetProducerKey, hashHex, type NetworkParams } from "@timenet/chain";
import { NodeKey } from "@timenet/node-key";
import type { ProducerKeySource } from "./options.js";
import { ProducerError } from "./producer-error.js";

export interface ProducerIdentity {
  key: NodeKey;
  /** Its index among the network's producers (the round-robin order). */
  index: number;
  /** Where the key came from, for logs: a file path, "devnet key k" or "given". */
  origin: string;
}

async function loadKey(source: ProducerKeySource): Promise<{ key: NodeKey; origin: string }> {
  if (source instanceof NodeKey) return { key: source, origin: "given" };
  if ("devnetIndex" in source) {
    try {
      return { key: devnetProducerKey(source.devnetIndex), origin: `devnet key ${source.devnetIndex}` };
    } catch (err) {
      throw new ProducerError("ERR_PRODUCER_KEY", (err as Error).message, { cause: err });
    }
  }
  try {
    return { key: (await NodeKey.loadOrCreate(source.file)).key, origin: source.file };
  } catch (err) {
    throw new ProducerError("ERR_PRODUCER_KEY", (err as Error).message, { cause: err });
  }
}

/**
 * The producer's key and its place in the round-robin. Refuses a key that is
 * not one of the network's producers: the block-store would refuse every
 * block it signs (UNKNOWN_PRODUCER).
 */
export async function resolveProducerIdentity(source: ProducerKeySource, network: NetworkParams): Promise<ProducerIdentity> {
  const { key, origin } = await loadKey(source);
  const id = hashHex(key.publicKey);
  const index = network.producers.findIndex((p) => hashHex(p) === id);
  if (index < 0) {
    throw new ProducerError(
      "ERR_NOT_A_PRODUCER",
      `producer key ${id} (${origin}) is not one of the ${network.producers.length} producers of network ${network.name}`,
    );
  }
  return { key, index, origin };
}
