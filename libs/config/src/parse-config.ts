import { ConfigError } from "./config-error.js";
import { SpecMismatch, type Spec } from "./spec.js";

export type Schema = Record<string, Spec<unknown>>;
export type ConfigOf<S extends Schema> = { [K in keyof S]: S[K] extends Spec<infer T> ? T : never };
export type Env = Record<string, string | undefined>;

/**
 * Reads every variable of the schema from `env`. Keys are the variable names.
 * The first bad value throws a ConfigError; unset or empty variables take
 * their default.
 */
export function parseConfig<S extends Schema>(schema: S, env: Env = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(schema)) {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") {
      if (s.required) throw new ConfigError(name, undefined, s.expected);
      out[name] = s.defaultValue;
      continue;
    }
    try {
      out[name] = s.parse(raw);
    } catch (err) {
      if (err instanceof SpecMismatch) throw new ConfigError(name, raw, s.expected);
      throw err;
    }
  }
  return out as ConfigOf<S>;
}

/** Markdown rows `| VAR | default | description |` for the README. */
export function describeSchema(schema: Schema): string {
  return Object.entries(schema)
    .map(([name, s]) => `| \`${name}\` | \`${s.defaultText}\` | ${s.description} |`)
    .join("\n");
}

/**
 * For main.ts: parse, and on a ConfigError print its one line to stderr and
 * exit 2, so a bad variable stops the service with a message naming it.
 */
export function loadConfigOrExit<S extends Schema>(schema: S, env: Env = process.env): ConfigOf<S> {
  try {
    return parseConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}
