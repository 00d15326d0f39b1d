import { parseArgs } from "node:util";

/** One option of a script: its meaning is required, so `--help` lists every option. */
export type CommandLineOption = { readonly type: "boolean"; readonly help: string } | { readonly type: "string"; readonly default?: string; readonly arg?: string; readonly help: string };

type Values<O extends Record<string, CommandLineOption>> = {
  readonly [K in keyof O]: O[K] extends { type: "boolean" } ? boolean : O[K] extends { default: string } ? string : string | undefined;
};

export interface NumberBounds {
  min?: number;
  max?: number;
  /** Whole numbers only. Default true. */
  integer?: boolean;
}

export interface CommandLine<O extends Record<string, CommandLineOption>> {
  readonly values: Values<O>;
  /** The option as a number within bounds; anything else ends the script with one line naming it. */
  number(name: keyof O & string, bounds?: NumberBounds): number;
  /** A comma-separated list of such numbers (`--workers 1,2,4`). */
  numbers(name: keyof O & string, bounds?: NumberBounds): number[];
  /** The option's value if it is one of `choices` (or unset: undefined); anything else ends the script naming them. */
  oneOf<C extends string>(name: keyof O & string, choices: readonly C[]): C | undefined;
  /** Ends the script: `<command>: <message>` on stderr, exit 2. */
  fail(message: string): never;
}

/**
 * Reads a bench's or a test tool's options. `--help` prints the usage and
 * every option with its default; an unknown option or a value that is not
 * what the option takes ends the script with one line and exit status 2
 * (node:util's parseArgs alone throws a stack trace).
 */
export function parseCommandLine<const O extends Record<string, CommandLineOption>>(spec: { command: string; about: string; options: O }, argv = process.argv.slice(2)): CommandLine<O> {
  const fail = (message: string): never => {
    process.stderr.write(`${spec.command}: ${message}\n`);
    process.exit(2);
  };
  const options: Record<string, { type: "string" | "boolean"; default?: string | boolean }> = { help: { type: "boolean" } };
  for (const [name, o] of Object.entries(spec.options)) options[name] = o.type === "boolean" ? { type: "boolean", default: false } : { type: "string", ...(o.default === undefined ? {} : { default: o.default }) };
  let values: Record<string, string | boolean | undefined> = {};
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof values;
  } catch (err) {
    fail(`${(err as Error).message.split("\n")[0]} (see --help)`);
  }
  if (values.help) {
    const lines = [`usage: ${spec.command} -- [options]`, "", spec.about, "", "options:"];
    const flag = (name: string, o: CommandLineOption) => (o.type === "boolean" ? `--${name}` : `--${name} ${o.arg ?? "VALUE"}`);
    const width = Math.max(...Object.entries(spec.options).map(([n, o]) => flag(n, o).length));
    for (const [name, o] of Object.entries(spec.options)) {
      const dflt = o.type === "string" && o.default !== undefined ? ` (default ${o.default})` : "";
      lines.push(`  ${flag(name, o).padEnd(width)}  ${o.help}${dflt}`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    process.exit(0);
  }
  const one = (name: string, raw: string, b: NumberBounds): number => {
    const n = raw.trim() === "" ? NaN : Number(raw);
    const { min = -Infinity, max = Infinity, integer = true } = b;
    const range = `${min === -Infinity ? "" : `${min}`}..${max === Infinity ? "" : `${max}`}`;
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) fail(`--${name} takes ${integer ? "whole numbers" : "numbers"}${range === ".." ? "" : ` in ${range}`}, not "${raw}"`);
    return n;
  };
  const raw = (name: string): string => {
    const v = values[name];
    if (typeof v !== "string") return fail(`--${name} is required`);
    return v;
  };
  return {
    values: values as Values<O>,
    number: (name, b = {}) => one(name, raw(name), b),
    numbers: (name, b = {}) => raw(name).split(",").map((s) => one(name, s, b)),
    oneOf: <C extends string>(name: string, choices: readonly C[]) => {
      const v = values[name];
      if (v === undefined || (choices as readonly unknown[]).includes(v)) return v as C | undefined;
      return fail(`--${name} takes ${choices.join(" or ")}, not "${String(v)}"`);
    },
    fail,
  };
}
