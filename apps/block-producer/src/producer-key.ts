import { devnetProducerKey, hashHex, isDevnetName, type NetworkParams } from "@timenet/chain";
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

async function loadKey(source: ProducerKeySource, network: NetworkParams): Promise<{ key: NodeKey; origin: string }> {
  if (source instanceof NodeKey) return { key: source, origin: "given" };
  if ("devnetIndex" in source) {
    if (!isDevnetName(network.name)) {
      throw new ProducerError(
        "ERR_DEVNET_KEY",
        `devnet key ${source.devnetIndex} (PRODUCER_DEVNET_INDEX) is public, anyone can sign with it: refused on network ${network.name}, which is not "devnet" or "devnet-*"; unset PRODUCER_DEVNET_INDEX and use PRODUCER_KEY_FILE (timenetctl producer-key create)`,
      );
    }
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
 * The producer's key and its place in the round-robin. Refuses a public
 * devnet key ({ devnetIndex }) unless the network is a devnet (ERR_DEVNET_KEY:
 * loadNetwork already keeps such keys out of other networks' files; this also
 * covers parameters built in code), and a key that is not one of the network's
 * producers: the block-store would refuse every block it signs
 * (ERR_NOT_A_PRODUCER).
 */
export async function resolveProducerIdentity(source: ProducerKeySource, network: NetworkParams): Promise<ProducerIdentity> {
  const { key, origin } = await loadKey(source, network);
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
