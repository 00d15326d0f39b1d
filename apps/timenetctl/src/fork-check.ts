import { blockHash, hashHex } from "@timenet/chain";
import { BlockStoreService } from "@timenet/proto";
import { CliError, ExitCode } from "./cli-error.js";
import { groupByValue } from "./fleet-drift.js";
import type { HostReport } from "./fleet-probe.js";
import { BLOCK_STORE } from "./node-probes.js";
import { probe } from "./part.js";
import type { Dial } from "./dial.js";

/** The block hashes of one sampled height: the groups of hosts agreeing on a hash, and who could not say. */
export interface HeightSample {
  height: number;
  hashes: Array<{ value: string; hosts: string[] }>;
  errors: Array<{ host: string; error: string }>;
}

export interface ForkCheck {
  /** The lowest tip height among the stores that answered (undefined with none). */
  commonHeight: number | undefined;
  samples: HeightSample[];
}

/** Up to 5 heights at and below `min`: min, 3/4, 1/2, 1/4 of it, and 1 (just 0 when min is 0). */
export function sampleHeights(min: number): number[] {
  if (min <= 0) return [0];
  const heights = [min, Math.floor((min * 3) / 4), Math.floor(min / 2), Math.floor(min / 4), 1].filter((h) => h >= 1);
  return [...new Set(heights)];
}

async function hashAt(host: HostReport, height: number, dial: Dial) {
  return probe(BlockStoreService, BLOCK_STORE, host.storeTarget, dial, async (store, call) => {
    const { block } = await store.getBlock({ by: { case: "height", value: height } }, call);
    if (!block?.header) throw new CliError(`block-store at ${host.storeTarget} has no block at height ${height}`, ExitCode.failure);
    return hashHex(blockHash(block.header));
  });
}

/** Compares the block hashes of every answering store at heights sampled below their common height. */
export async function checkForks(hosts: readonly HostReport[], dial: Dial): Promise<ForkCheck> {
  const stores = hosts.flatMap((h) => (h.tip.ok ? [{ host: h, height: h.tip.value.height }] : []));
  if (stores.length === 0) return { commonHeight: undefined, samples: [] };
  const commonHeight = Math.min(...stores.map((s) => s.height));
  const samples = await Promise.all(
    sampleHeights(commonHeight).map(async (height): Promise<HeightSample> => {
      const answers = await Promise.all(stores.map(async ({ host }) => [host.name, await hashAt(host, height, dial)] as const));
      return {
        height,
        hashes: groupByValue(answers.flatMap(([name, a]) => (a.ok ? [[name, a.value] as const] : []))),
        errors: answers.flatMap(([host, a]) => (a.ok ? [] : [{ host, error: a.error }])),
      };
    }),
  );
  return { commonHeight, samples };
}

/** The samples where the stores disagree. */
export const forksOf = (check: ForkCheck): HeightSample[] => check.samples.filter((s) => s.hashes.length > 1);
