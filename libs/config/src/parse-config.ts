import { ConfigError } from "./config-error.js";
import { SpecMismatch, type Spec } from "./spec.js";

export type Schema = Record<string, Spec<unknown>>;
export type ConfigOf<S extends Schema> = { [K in keyof S]: S[K] extends Spec<infer T> ? T : never };
export type Env = Record<string, string | undefined>;

/** A rule between variables that are each valid alone (e.g. a minimum and a maximum). */
export interface CrossCheck<S extends Schema> {
  readonly variables: ReadonlyArray<keyof S & string>;
  readonly expected: string;
  holds(config: ConfigOf<S>): boolean;
}

/** `a <= b`, for two numeric variables of a schema. */
export function atMost<S extends Schema>(a: keyof S & string, b: keyof S & string): CrossCheck<S> {
  return { variables: [a, b], expected: `${a} <= ${b}`, holds: (c) => (c[a] as number) <= (c[b] as number) };
}

/**
 * Reads every variable of the schema from `env`. Keys are the variable names.
 * The first bad value throws a ConfigError; unset or empty variables take
 * their default. Then every cross-check must hold, or a ConfigError names the
 * variables involved.
 */
export function parseConfig<S extends Schema>(schema: S, env: Env = process.env, checks: ReadonlyArray<CrossCheck<S>> = []): ConfigOf<S> {
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
  const config = out as ConfigOf<S>;
  for (const check of checks) {
    if (check.holds(config)) continue;
    throw ConfigError.combination(
      check.variables.map((v) => [v, env[v]?.trim() || schema[v]!.defaultText]),
      check.expected,
    );
  }
  return config;
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
export function loadConfigOrExit<S extends Schema>(schema: S, env: Env = process.env, checks: ReadonlyArray<CrossCheck<S>> = []): ConfigOf<S> {
  try {
    return parseConfig(schema, env, checks);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}
