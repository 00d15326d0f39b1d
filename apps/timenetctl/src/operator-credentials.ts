import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { MutualTls } from "@timenet/grpc";
import { loadTlsDir, OperatorTlsError } from "@timenet/operator-tls";
import { CliError, ExitCode } from "./cli-error.js";

/** Where the operator's TLS directory may be named, highest precedence first. */
export interface CredentialSources {
  /** --tls-dir */
  tlsDir?: string | undefined;
  /** --config; default: defaultConfigFile(env), which may be absent. */
  config?: string | undefined;
  env: Record<string, string | undefined>;
}

/** $XDG_CONFIG_HOME/timenet/timenetctl.json, else ~/.config/timenet/timenetctl.json. */
export function defaultConfigFile(env: Record<string, string | undefined>): string {
  const base = env.XDG_CONFIG_HOME?.trim() || join(env.HOME?.trim() || homedir(), ".config");
  return join(base, "timenet", "timenetctl.json");
}

/** The config file's tlsDir (relative to the file), or undefined when the default file does not exist. */
function tlsDirOfConfig(file: string, explicit: boolean): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && !explicit) return undefined;
    throw new CliError(`cannot read the config file ${file}: ${(err as Error).message}`, ExitCode.usage);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file}: not JSON: ${(err as Error).message}`, ExitCode.usage);
  }
  const tlsDir = (parsed as { tlsDir?: unknown } | null)?.tlsDir;
  if (tlsDir === undefined) return undefined;
  if (typeof tlsDir !== "string" || tlsDir === "") throw new CliError(`${file}: "tlsDir" must be a directory path`, ExitCode.usage);
  return resolve(dirname(file), tlsDir);
}

/** The TLS directory and where it was named: --tls-dir, else TIMENET_TLS_DIR, else the config file; undefined: none. */
export function resolveTlsDir(s: CredentialSources): { dir: string; source: string } | undefined {
  if (s.tlsDir) return { dir: s.tlsDir, source: "--tls-dir" };
  const env = s.env.TIMENET_TLS_DIR?.trim();
  if (env) return { dir: env, source: "TIMENET_TLS_DIR" };
  const file = s.config ?? defaultConfigFile(s.env);
  const dir = tlsDirOfConfig(file, s.config !== undefined);
  return dir ? { dir, source: file } : undefined;
}

/** The operator's client cert for mutual TLS, loaded and checked; undefined: dial in plaintext (a node on loopback). */
export function operatorCredentials(s: CredentialSources): MutualTls | undefined {
  const found = resolveTlsDir(s);
  if (!found) return undefined;
  try {
    return loadTlsDir(found.dir);
  } catch (err) {
    if (err instanceof OperatorTlsError) throw new CliError(`TLS directory from ${found.source}: ${err.message}`, ExitCode.usage);
    throw err;
  }
}
