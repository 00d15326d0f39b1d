import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { NodeKey } from "@timenet/node-key";
import { CliError, ExitCode } from "../cli-error.js";

const FILE_MODE = 0o600;

/** What a producer-key command reports: the key file and its public key (hex). */
export interface ProducerKeyReport {
  file: string;
  publicKey: string;
}

function report(file: string, key: NodeKey, json: boolean, text: string): string {
  const r: ProducerKeyReport = { file, publicKey: key.nodeId };
  return json ? JSON.stringify(r) : text;
}

/**
 * `timenetctl producer-key create --out FILE`: a new ed25519 key in the file
 * format NodeKey.loadOrCreate reads (PKCS#8 PEM), mode 0600. Never overwrites:
 * an existing file (a key that may already be listed in a network file) is
 * refused, exit 2. Prints the public key to paste into the network file.
 */
export async function producerKeyCreateCommand(out: string, json: boolean): Promise<string> {
  const file = resolve(out);
  const key = NodeKey.generate();
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    // "wx": O_CREAT | O_EXCL, so a file that appears meanwhile is not overwritten either.
    await writeFile(file, key.toPem(), { mode: FILE_MODE, flag: "wx" });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EEXIST") {
      throw new CliError(`${file} already exists: not overwritten (its public key: timenetctl producer-key show --key ${out})`, ExitCode.usage);
    }
    throw new CliError(`cannot write ${file}: ${e.message}`, ExitCode.failure);
  }
  return report(
    file,
    key,
    json,
    [
      `created producer key ${file} (ed25519, mode 0600); its public key:`,
      key.nodeId,
      `paste it into "producers" of the network file (deploy/networks/testnet.json) in the agreed order, the same file on every host (deploy/README.md, "Producer keys")`,
    ].join("\n"),
  );
}

/** `timenetctl producer-key show --key FILE`: the public key (hex) of an existing key file. */
export async function producerKeyShowCommand(keyFile: string, json: boolean): Promise<string> {
  const file = resolve(keyFile);
  let pem: string;
  try {
    pem = await readFile(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`cannot read ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`, e.code === "ENOENT" ? ExitCode.usage : ExitCode.failure);
  }
  let key: NodeKey;
  try {
    key = NodeKey.fromPem(pem);
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message.split("\n")[0]}`, ExitCode.usage);
  }
  return report(file, key, json, key.nodeId);
}
