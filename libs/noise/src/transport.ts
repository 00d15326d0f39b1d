import { TAG_LEN, type CipherState } from "./cipher-state.js";
import { NoiseError } from "./noise-error.js";

/** Noise's limit for any message, and so for one transport message on the wire. */
export const MAX_NOISE_MESSAGE_BYTES = 65_535;
/** Plaintext per transport message: the limit less the tag. */
export const MAX_TRANSPORT_PLAINTEXT = MAX_NOISE_MESSAGE_BYTES - TAG_LEN;
/** Each message on the wire is preceded by its length, 2 bytes big-endian (as libp2p-noise). */
export const MESSAGE_LENGTH_BYTES = 2;
/**
 * Each direction's key is replaced (Noise Rekey) after this many messages:
 * a key compromised later reveals at most this many messages before it, and
 * ChaCha20-Poly1305's per-key message bound stays far away.
 */
export const DEFAULT_REKEY_AFTER_MESSAGES = 1 << 20;

const EMPTY = new Uint8Array(0);

export interface TransportOptions {
  rekeyAfterMessages?: number;
}

/**
 * The sending half of a transport: any plaintext becomes one or more
 * length-prefixed sealed messages of at most 65,535 bytes each.
 */
export class TransportSealer {
  private sinceRekey = 0;
  private readonly rekeyAfter: number;

  constructor(
    private readonly cipher: CipherState,
    o: TransportOptions = {},
  ) {
    this.rekeyAfter = o.rekeyAfterMessages ?? DEFAULT_REKEY_AFTER_MESSAGES;
  }

  /** Messages sealed so far (its nonce). */
  get messages(): bigint {
    return this.cipher.nonce;
  }

  /** Seals `plaintext` (split as needed) into wire bytes: [len][ciphertext] repeated. */
  seal(plaintext: Uint8Array): Buffer {
    const count = Math.max(1, Math.ceil(plaintext.length / MAX_TRANSPORT_PLAINTEXT));
    const out = Buffer.allocUnsafe(plaintext.length + count * (MESSAGE_LENGTH_BYTES + TAG_LEN));
    let at = 0;
    for (let i = 0; i < count; i++) {
      const part = plaintext.subarray(i * MAX_TRANSPORT_PLAINTEXT, (i + 1) * MAX_TRANSPORT_PLAINTEXT);
      const ct = this.cipher.encryptWithAd(EMPTY, part);
      out.writeUInt16BE(ct.length, at);
      ct.copy(out, at + MESSAGE_LENGTH_BYTES);
      at += MESSAGE_LENGTH_BYTES + ct.length;
      if (++this.sinceRekey >= this.rekeyAfter) {
        this.cipher.rekey();
        this.sinceRekey = 0;
      }
    }
    return out;
  }
}

/**
 * The receiving half: fed whatever the socket delivers, in any split, it
 * returns the plaintext of every complete message. It holds at most one
 * partial message (65,537 bytes); a message that does not authenticate
 * throws NoiseError DECRYPT_FAILED, and every call after that throws it too.
 */
export class TransportOpener {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed: NoiseError | undefined;
  private sinceRekey = 0;
  private readonly rekeyAfter: number;

  constructor(
    private readonly cipher: CipherState,
    o: TransportOptions = {},
  ) {
    this.rekeyAfter = o.rekeyAfterMessages ?? DEFAULT_REKEY_AFTER_MESSAGES;
  }

  get messages(): bigint {
    return this.cipher.nonce;
  }

  /** Bytes held of a message that has not fully arrived. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): Buffer[] {
    if (this.failed) throw this.failed;
    if (chunk.length > 0) {
      this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.buffered += chunk.length;
    }
    const out: Buffer[] = [];
    while (this.buffered >= MESSAGE_LENGTH_BYTES) {
      const length = this.peekLength();
      if (length < TAG_LEN) return this.fail(new NoiseError("BAD_MESSAGE", `transport message of ${length} bytes is shorter than its tag`));
      if (this.buffered < MESSAGE_LENGTH_BYTES + length) break;
      this.take(MESSAGE_LENGTH_BYTES);
      try {
        out.push(this.cipher.decryptWithAd(EMPTY, this.take(length)));
      } catch (err) {
        if (err instanceof NoiseError) return this.fail(err);
        throw err;
      }
      if (++this.sinceRekey >= this.rekeyAfter) {
        this.cipher.rekey();
        this.sinceRekey = 0;
      }
    }
    return out;
  }

  private fail(err: NoiseError): never {
    this.failed = err;
    this.chunks = [];
    this.buffered = 0;
    throw err;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 2) return first.readUInt16BE(0);
    return (first[0]! << 8) | this.chunks[1]![0]!;
  }

  /** Removes n bytes from the front; copies only when they span chunks. */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
