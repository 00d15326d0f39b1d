/** DER prefix of an ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
export const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
