import { ByteQueue } from "@timenet/byte-queue";
import { TAG_LEN, type CipherState } from "./cipher-state.js";
import { NoiseError } from "./noise-error.js";

/** Noise's limit for any message, and so for one transport message's body on the wire. */
export const MAX_NOISE_MESSAGE_BYTES = 65_535;
/** Plaintext per transport message: the limit less the tag. */
export const MAX_TRANSPORT_PLAINTEXT = MAX_NOISE_MESSAGE_BYTES - TAG_LEN;
/**
 * Each message's length travels first as its own sealed 2-byte Noise message
 * (18 bytes on the wire), as Lightning's BOLT 8 does: a length changed on the
 * path fails authentication at once, instead of making the receiver wait for
 * bytes that never belong to the message (both ends would then see the other
 * stop answering pings, and blame it).
 */
export const SEALED_LENGTH_BYTES = 2 + TAG_LEN;
/** Wire bytes a message adds to its plaintext: its sealed length and its tag. */
export const MESSAGE_OVERHEAD_BYTES = SEALED_LENGTH_BYTES + TAG_LEN;
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
 * What both halves of a transport share: the direction's cipher and its
 * rekey schedule. Each message takes two nonces (its length, its body), so
 * the messages so far, and when to rekey, follow from the nonce.
 */
abstract class TransportHalf {
  private readonly rekeyAfter: bigint;

  constructor(
    protected readonly cipher: CipherState,
    o: TransportOptions = {},
  ) {
    this.rekeyAfter = BigInt(o.rekeyAfterMessages ?? DEFAULT_REKEY_AFTER_MESSAGES);
  }

  /** Messages sealed or opened so far. */
  get messages(): bigint {
    return this.cipher.nonce / 2n;
  }

  /** After each whole message: replace the key every `rekeyAfterMessages`. */
  protected messageDone(): void {
    if (this.messages % this.rekeyAfter === 0n) this.cipher.rekey();
  }
}

/**
 * The sending half of a transport: any plaintext becomes one or more
 * length-prefixed sealed messages of at most 65,535 bytes each.
 */
export class TransportSealer extends TransportHalf {
  /** Seals `plaintext` (split as needed) into wire bytes: [sealed length][sealed body] repeated. */
  seal(plaintext: Uint8Array): Buffer {
    const count = Math.max(1, Math.ceil(plaintext.length / MAX_TRANSPORT_PLAINTEXT));
    const out = Buffer.allocUnsafe(plaintext.length + count * MESSAGE_OVERHEAD_BYTES);
    const length = Buffer.allocUnsafe(2);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const part = plaintext.subarray(i * MAX_TRANSPORT_PLAINTEXT, (i + 1) * MAX_TRANSPORT_PLAINTEXT);
      length.writeUInt16BE(part.length + TAG_LEN);
      at += this.cipher.encryptWithAdInto(EMPTY, length, out, at);
      at += this.cipher.encryptWithAdInto(EMPTY, part, out, at);
      this.messageDone();
    }
    return out;
  }
}

/**
 * The receiving half: fed whatever the socket delivers, in any split, it
 * returns the plaintext of every complete message. It holds at most one
 * partial message (18 + 65,535 bytes); a length or a message that does not
 * authenticate throws NoiseError DECRYPT_FAILED (a length as soon as its 18
 * bytes are in), and every call after that throws it too.
 */
export class TransportOpener extends TransportHalf {
  private readonly queue = new ByteQueue();
  private failed: NoiseError | undefined;
  /** The body length of the message whose length was read (0: read a length next). */
  private bodyLength = 0;

  /** Bytes held of a message that has not fully arrived. */
  get bufferedBytes(): number {
    return this.queue.length;
  }

  push(chunk: Uint8Array): Buffer[] {
    if (this.failed) throw this.failed;
    this.queue.push(chunk);
    const out: Buffer[] = [];
    try {
      for (;;) {
        if (this.bodyLength === 0) {
          if (this.queue.length < SEALED_LENGTH_BYTES) break;
          const length = this.cipher.decryptWithAd(EMPTY, this.queue.take(SEALED_LENGTH_BYTES)).readUInt16BE(0);
          if (length < TAG_LEN) throw new NoiseError("BAD_MESSAGE", `transport message of ${length} bytes is shorter than its tag`);
          this.bodyLength = length;
        }
        if (this.queue.length < this.bodyLength) break;
        out.push(this.cipher.decryptWithAd(EMPTY, this.queue.take(this.bodyLength)));
        this.bodyLength = 0;
        this.messageDone();
      }
    } catch (err) {
      if (err instanceof NoiseError) return this.fail(err);
      throw err;
    }
    return out;
  }

  private fail(err: NoiseError): never {
    this.failed = err;
    this.queue.clear();
    throw err;
  }
}
