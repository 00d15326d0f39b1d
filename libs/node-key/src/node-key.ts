import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { isStrictPoint, isStrictSignature } from "./strict-ed25519.js";
import { ed25519PublicKey, rawEd25519PublicKey } from "./raw-public-key.js";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

export class NodeKeyError extends Error {
  readonly code = "ERR_NODE_KEY";
  constructor(message: string) {
    super(message);
    this.name = "NodeKeyError";
  }
}

// DER prefix of an ed25519 PKCS#8 PrivateKeyInfo; the raw 32-byte seed follows it.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** The node's ed25519 identity. Its public key is the node id peers see in Hello. */
export class NodeKey {
  readonly publicKey: Uint8Array;
  readonly nodeId: string;

  private constructor(private readonly privateKey: KeyObject) {
    this.publicKey = rawEd25519PublicKey(createPublicKey(privateKey));
    this.nodeId = Buffer.from(this.publicKey).toString("hex");
  }

  /**
   * A new key from 32 random bytes (an RFC 8032 seed). Not generateKeyPairSync:
   * exporting a key while the garbage of its generation job is finalized
   * deadlocks Node 20 (see @timenet/noise's generateDhKeyPair).
   */
  static generate(): NodeKey {
    return NodeKey.fromSeed(randomBytes(32));
  }

  /**
   * The key whose RFC 8032 private key (seed) is these 32 bytes: the same seed
   * always gives the same key. For fixed, published keys (the devnet's
   * producers); a node's own key comes from `loadOrCreate`.
   */
  static fromSeed(seed: Uint8Array): NodeKey {
    if (seed.length !== 32) throw new NodeKeyError(`an ed25519 seed is 32 bytes, got ${seed.length}`);
    const der = Buffer.concat([PKCS8_ED25519_PREFIX, seed]);
    return new NodeKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" }));
  }

  static fromPem(pem: string): NodeKey {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (err) {
      throw new NodeKeyError(`not a PEM private key: ${(err as Error).message}`);
    }
    if (key.asymmetricKeyType !== "ed25519") throw new NodeKeyError(`expected an ed25519 key, got ${key.asymmetricKeyType}`);
    return new NodeKey(key);
  }

  /**
   * Loads the key file, or creates it (mode 0600, written atomically) when it
   * does not exist, so the node id survives restarts.
   */
  static async loadOrCreate(path: string): Promise<{ key: NodeKey; created: boolean }> {
    let pem: string | undefined;
    try {
      pem = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new NodeKeyError(`cannot read node key ${path}: ${(err as Error).message}`);
      }
    }
    if (pem !== undefined) {
      try {
        return { key: NodeKey.fromPem(pem), created: false };
      } catch (err) {
        throw new NodeKeyError(`node key ${path}: ${(err as Error).message}`);
      }
    }
    const key = NodeKey.generate();
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, key.toPem(), { mode: 0o600 });
    await rename(tmp, path);
    return { key, created: true };
  }

  toPem(): string {
    return this.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  }

  sign(data: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, data, this.privateKey));
  }
}

/**
 * Verifies an ed25519 signature; malformed keys or signatures are simply
 * invalid, and so are small-order or non-canonical keys and R values and
 * S >= L (strict, as libsodium: OpenSSL alone accepts them).
 */
export function verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (!isStrictPoint(publicKey) || !isStrictSignature(signature)) return false;
  try {
    return verify(null, data, ed25519PublicKey(publicKey), signature);
  } catch {
    return false;
  }
}
