import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { create } from "@bufbuild/protobuf";
import { NodeKey } from "@timenet/node-key";
import { BlockHeaderSchema, BlockSchema, type Block } from "@timenet/proto";
import { blockHash } from "./block-hash.js";
import { ChainError } from "./chain-error.js";

/** Everything that makes one network differ from another. */
export interface NetworkParams {
  name: string;
  genesis: Block;
  genesisHash: Uint8Array;
  /** ed25519 public keys (32 bytes) of the producers, in round-robin order. */
  producers: Uint8Array[];
  blockIntervalMs: number;
  maxBlockBytes: number;
  maxTxs: number;
  maxFutureDriftMs: number;
  /**
   * Blocks more than this far below the tip are final: no fork from below
   * them is ever switched to. A rule of the network (every node must agree on
   * what is final), so it lives here and nowhere else.
   */
  maxReorgDepth: number;
}

/** 2026-01-01T00:00:00Z */
const DEVNET_GENESIS_TIMESTAMP_MS = 1767225600000n;

const LIMIT_DEFAULTS = {
  blockIntervalMs: 5000,
  maxBlockBytes: 1024 * 1024,
  maxTxs: 10_000,
  // Under one interval: a stand-in's block (at least two intervals after its
  // parent) is never applied before the block of the producer whose turn came
  // first. Clocks off by more only delay blocks (they are held), never refuse them.
  maxFutureDriftMs: 2_000,
  maxReorgDepth: 100,
};

/**
 * The genesis block of a network: height 0, all-zero prev_hash, no txs (so an
 * all-zero merkle root), all-zero producer_id and an empty signature. It is
 * not signed; a network fixes it by its hash. Only the timestamp varies, so
 * two networks with the same genesis timestamp share a genesis hash.
 */
export function genesisBlock(timestampMs: bigint): Block {
  const header = create(BlockHeaderSchema, {
    height: 0,
    prevHash: new Uint8Array(32),
    merkleRoot: new Uint8Array(32),
    timestampMs,
    producerId: new Uint8Array(32),
    signature: new Uint8Array(0),
  });
  return create(BlockSchema, { header, txs: [] });
}

/** The highest devnet key index a producer may use (PRODUCER_DEVNET_INDEX) and loadNetwork looks for. */
export const MAX_DEVNET_PRODUCER_INDEX = 1000;
const devnetKeys = new Map<number, NodeKey>();

/**
 * The devnet's i-th producer key, from the seed SHA-256("timenet devnet producer " + i).
 * These keys are PUBLIC BY DESIGN: anyone can derive them and produce blocks
 * with them. Only devnets (isDevnetName) may list them: loadNetwork refuses
 * them in any other network, and the producer refuses to sign with them there.
 */
export function devnetProducerKey(i: number): NodeKey {
  if (!Number.isSafeInteger(i) || i < 0) throw new ChainError("ERR_NETWORK_PARAMS", `devnet producer index must be a non-negative integer, got ${i}`);
  // Parsing a key costs ~0.8 ms, ~5x signing with it: a chain built block by block asked for the same few keys
  // 20,000 times (18 s of the sync bench's set-up). Cached up to the highest index a network may list.
  const cached = devnetKeys.get(i);
  if (cached) return cached;
  const key = NodeKey.fromSeed(new Uint8Array(createHash("sha256").update(`timenet devnet producer ${i}`).digest()));
  if (i <= MAX_DEVNET_PRODUCER_INDEX) devnetKeys.set(i, key);
  return key;
}

/**
 * Whether a network is a devnet: "devnet" or "devnet-<anything>". A devnet's
 * producer keys are public by definition (tests, local files such as
 * deploy/networks/devnet-fast.json); every other network must list only keys
 * whose private halves are secret.
 */
export function isDevnetName(name: string): boolean {
  return name === "devnet" || name.startsWith("devnet-");
}

let devnetKeyIndexes: Map<string, number> | undefined;

/**
 * The devnet key index of this public key (hex, lower case), or undefined when
 * it is not one of devnetProducerKey(0..MAX_DEVNET_PRODUCER_INDEX). The 1001
 * keys are derived once, on the first call (0.5-1 s on a 2-core host: only
 * when a non-devnet network file is loaded, once per process), and kept.
 */
export function devnetKeyIndex(publicKeyHex: string): number | undefined {
  if (devnetKeyIndexes === undefined) {
    const map = new Map<string, number>();
    for (let i = 0; i <= MAX_DEVNET_PRODUCER_INDEX; i++) map.set(devnetProducerKey(i).nodeId, i);
    devnetKeyIndexes = map;
  }
  return devnetKeyIndexes.get(publicKeyHex);
}

/** How the shipped deploy/networks/testnet.json marks a producer the operator has still to fill in. */
const PLACEHOLDER = /^REPLACE-WITH-/;
const CREATE_KEYS = `create each producer's key with "timenetctl producer-key create --out <file>" on its host`;
const SEE_README = `(deploy/README.md, "Producer keys")`;

function buildParams(name: string, genesisTimestampMs: bigint, producers: Uint8Array[], limits: typeof LIMIT_DEFAULTS): NetworkParams {
  const genesis = genesisBlock(genesisTimestampMs);
  return Object.freeze({
    name,
    genesis,
    genesisHash: blockHash(genesis.header!),
    producers: Object.freeze(producers) as Uint8Array[],
    ...limits,
  });
}

/** The local development network: three producers with public, derivable keys. */
export const DEVNET: NetworkParams = buildParams(
  "devnet",
  DEVNET_GENESIS_TIMESTAMP_MS,
  [0, 1, 2].map((i) => devnetProducerKey(i).publicKey),
  LIMIT_DEFAULTS,
);

export const DEVNET_GENESIS_HASH: Uint8Array = DEVNET.genesisHash;

/**
 * The same network with some limits changed (tests: a short reorg depth, a
 * short interval). The genesis, and so the genesis hash, stay the same.
 */
export function withLimits(base: NetworkParams, limits: Partial<typeof LIMIT_DEFAULTS>): NetworkParams {
  const params = { ...base, ...limits };
  const problem = limitsProblem(params);
  if (problem !== undefined) throw new ChainError("ERR_NETWORK_PARAMS", problem);
  return Object.freeze(params);
}

/** What is wrong with a set of limits together, or undefined. */
function limitsProblem(l: typeof LIMIT_DEFAULTS): string | undefined {
  if (l.maxFutureDriftMs >= l.blockIntervalMs) {
    return `field "max_future_drift_ms" (${l.maxFutureDriftMs}) must be less than "block_interval_ms" (${l.blockIntervalMs}): a stand-in's early block could otherwise land before the turn of the producer ahead of it`;
  }
  return undefined;
}

/** `params` as a network file (the format loadNetwork reads): for tests and tools that start services with NETWORK=<file>. */
export function networkFileJson(params: NetworkParams): string {
  return JSON.stringify(
    {
      name: params.name,
      genesis_timestamp_ms: Number(params.genesis.header!.timestampMs),
      producers: params.producers.map((p) => Buffer.from(p).toString("hex")),
      block_interval_ms: params.blockIntervalMs,
      max_block_bytes: params.maxBlockBytes,
      max_txs: params.maxTxs,
      max_future_drift_ms: params.maxFutureDriftMs,
      max_reorg_depth: params.maxReorgDepth,
    },
    null,
    2,
  );
}

/** Whose turn it is to produce the block at `height`: round-robin over the producers. */
export function expectedProducer(height: number, params: NetworkParams): Uint8Array {
  const producer = params.producers[height % params.producers.length];
  if (producer === undefined) throw new ChainError("ERR_NETWORK_PARAMS", `network ${params.name} has no producers`);
  return producer;
}

const FILE_FIELDS: Record<string, "required" | keyof typeof LIMIT_DEFAULTS> = {
  name: "required",
  genesis_timestamp_ms: "required",
  producers: "required",
  block_interval_ms: "blockIntervalMs",
  max_block_bytes: "maxBlockBytes",
  max_txs: "maxTxs",
  max_future_drift_ms: "maxFutureDriftMs",
  max_reorg_depth: "maxReorgDepth",
};

/**
 * The parameters of a network: "devnet" is built in; any other name is read
 * from `deploy/networks/<name>.json` relative to the current directory, and
 * anything that looks like a path (contains "/" or ends in ".json") is read
 * as is. The file:
 *
 *   { "name": "testnet", "genesis_timestamp_ms": 1767225600000,
 *     "producers": ["<64 hex: ed25519 public key>", ...], "block_interval_ms": 5000 }
 *
 * with optional max_block_bytes, max_txs, max_future_drift_ms and
 * max_reorg_depth (devnet's
 * values when absent); unknown fields are refused. The genesis block is built
 * like devnet's from genesis_timestamp_ms.
 *
 * Keys: a network whose name is not a devnet name (isDevnetName) may not list
 * a devnet producer key (devnetProducerKey(0..1000)): anyone could sign its
 * blocks. The shipped deploy/networks/testnet.json holds placeholder strings
 * ("REPLACE-WITH-PRODUCER-1-PUBLIC-KEY", ...) where the producers' public keys
 * go; a file that still holds one is refused with what to do.
 *
 * Throws ChainError "ERR_NETWORK_PARAMS" with a one-line message naming the
 * file and the field.
 */
export function loadNetwork(nameOrPath: string): NetworkParams {
  if (nameOrPath === "devnet") return DEVNET;
  const byName = !nameOrPath.includes("/") && !nameOrPath.endsWith(".json");
  const path = byName ? resolve("deploy", "networks", `${nameOrPath}.json`) : resolve(nameOrPath);
  const fail = (what: string): never => {
    throw new ChainError("ERR_NETWORK_PARAMS", `network file ${path}: ${what}`);
  };

  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(code === "ENOENT" ? `not found (network "${nameOrPath}" is not built in)` : `cannot read: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail(`not JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return fail("expected a JSON object");
  const obj = doc as Record<string, unknown>;

  for (const key of Object.keys(obj)) {
    if (!(key in FILE_FIELDS)) fail(`unknown field "${key}" (known: ${Object.keys(FILE_FIELDS).join(", ")})`);
  }
  for (const [key, kind] of Object.entries(FILE_FIELDS)) {
    if (kind === "required" && obj[key] === undefined) fail(`field "${key}" is missing`);
  }

  const name = obj.name;
  if (typeof name !== "string" || !/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    return fail(`field "name" must be a lower-case name like "testnet", got ${JSON.stringify(name)}`);
  }
  if (byName && name !== nameOrPath) fail(`field "name" is "${name}" but the file was loaded as network "${nameOrPath}"`);

  const ts = obj.genesis_timestamp_ms;
  if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < 0) {
    return fail(`field "genesis_timestamp_ms" must be a non-negative integer (ms since the epoch), got ${JSON.stringify(ts)}`);
  }

  const rawProducers = obj.producers;
  if (!Array.isArray(rawProducers) || rawProducers.length === 0) {
    return fail(`field "producers" must be a non-empty array of ed25519 public keys in hex`);
  }
  const seen = new Set<string>();
  const producers = rawProducers.map((p: unknown, i) => {
    if (typeof p === "string" && PLACEHOLDER.test(p)) fail(`producers[${i}] is still a placeholder: ${CREATE_KEYS} and paste the printed public keys here ${SEE_README}`);
    if (typeof p !== "string" || !/^[0-9a-fA-F]{64}$/.test(p)) {
      return fail(`field "producers[${i}]" must be 64 hex digits (an ed25519 public key), got ${JSON.stringify(p)}`);
    }
    const hex = p.toLowerCase();
    if (seen.has(hex)) fail(`field "producers[${i}]" repeats ${hex}`);
    const devnetIndex = isDevnetName(name) ? undefined : devnetKeyIndex(hex);
    if (devnetIndex !== undefined) {
      fail(
        `field "producers[${i}]" is devnet producer key ${devnetIndex}, whose private key anyone can derive (only networks named "devnet" or "devnet-*" may list it): ${CREATE_KEYS} and list the printed public key instead ${SEE_README}`,
      );
    }
    seen.add(hex);
    return new Uint8Array(Buffer.from(hex, "hex"));
  });

  const limits = { ...LIMIT_DEFAULTS };
  for (const [key, kind] of Object.entries(FILE_FIELDS)) {
    const value = obj[key];
    if (kind === "required" || value === undefined) continue;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      fail(`field "${key}" must be a positive integer, got ${JSON.stringify(value)}`);
    }
    limits[kind] = value as number;
  }

  const problem = limitsProblem(limits);
  if (problem !== undefined) fail(problem);
  return buildParams(name, BigInt(ts), producers, limits);
}

