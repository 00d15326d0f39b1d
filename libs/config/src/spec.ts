/**
 * How one environment variable is parsed. `parse` throws a plain message
 * (what is expected); parseConfig turns it into a ConfigError naming the
 * variable and value.
 */
export interface Spec<T> {
  readonly description: string;
  readonly defaultValue: T | undefined;
  readonly required: boolean;
  readonly expected: string;
  parse(raw: string): T;
  /** Text for the README's configuration table. */
  readonly defaultText: string;
}

export class SpecMismatch extends Error {}

interface Common<T> {
  description: string;
  default?: T;
}

function spec<T>(
  common: Common<T>,
  expected: string,
  parse: (raw: string) => T,
  show: (v: T) => string = String,
): Spec<T> {
  return {
    description: common.description,
    defaultValue: common.default,
    required: common.default === undefined,
    expected,
    parse,
    defaultText: common.default === undefined ? "(required)" : show(common.default),
  };
}

/** An optional variable: undefined when unset or empty. */
export function optional<T>(s: Spec<T>): Spec<T | undefined> {
  return { ...s, required: false, defaultValue: undefined, defaultText: "(unset)" };
}

function fail(): never {
  throw new SpecMismatch();
}

export function str(c: Common<string> & { pattern?: RegExp; patternText?: string }): Spec<string> {
  return spec(c, c.patternText ?? "a non-empty string", (raw) => {
    if (raw === "" || (c.pattern && !c.pattern.test(raw))) fail();
    return raw;
  });
}

export function int(c: Common<number> & { min?: number; max?: number }): Spec<number> {
  const range =
    c.min !== undefined && c.max !== undefined
      ? ` from ${c.min} to ${c.max}`
      : c.min !== undefined
        ? ` >= ${c.min}`
        : c.max !== undefined
          ? ` <= ${c.max}`
          : "";
  return spec(c, `an integer${range}`, (raw) => {
    if (!/^-?\d+$/.test(raw)) fail();
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || (c.min !== undefined && n < c.min) || (c.max !== undefined && n > c.max)) fail();
    return n;
  });
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration in milliseconds, written `500ms`, `10s`, `2m`, `1h` (a bare number is milliseconds). */
export function durationMs(c: Common<number> & { min?: number; max?: number }): Spec<number> {
  return spec(
    c,
    `a duration such as 500ms, 10s, 2m${c.min !== undefined ? ` (at least ${formatDuration(c.min)})` : ""}`,
    (raw) => {
      const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw);
      if (!m) fail();
      const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? "ms"]!);
      if ((c.min !== undefined && ms < c.min) || (c.max !== undefined && ms > c.max)) fail();
      return ms;
    },
    formatDuration,
  );
}

/** Byte sizes: `8MiB`, `512KiB`, `1048576`. */
export function bytes(c: Common<number> & { min?: number; max?: number }): Spec<number> {
  const units: Record<string, number> = { "": 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
  return spec(
    c,
    "a size such as 8MiB, 512KiB or a number of bytes",
    (raw) => {
      const m = /^(\d+)\s*([a-zA-Z]*)$/.exec(raw);
      const unit = units[(m?.[2] ?? "").toLowerCase()];
      if (!m || unit === undefined) fail();
      const n = Number(m[1]) * unit;
      if ((c.min !== undefined && n < c.min) || (c.max !== undefined && n > c.max)) fail();
      return n;
    },
    (n) => (n % 1024 ** 2 === 0 ? `${n / 1024 ** 2}MiB` : String(n)),
  );
}

export function bool(c: Common<boolean>): Spec<boolean> {
  return spec(c, "true or false", (raw) => {
    if (/^(true|1|yes|on)$/i.test(raw)) return true;
    if (/^(false|0|no|off)$/i.test(raw)) return false;
    fail();
  });
}

export function oneOf<const V extends string>(values: readonly V[], c: Common<V>): Spec<V> {
  return spec(c, `one of ${values.join(", ")}`, (raw) => {
    if (!(values as readonly string[]).includes(raw)) fail();
    return raw as V;
  });
}

/** A comma-separated list; each item parsed by `item`, which throws to reject it. */
export function list<T>(c: Common<T[]> & { itemExpected: string; item: (raw: string) => T }): Spec<T[]> {
  return spec(
    c,
    `a comma-separated list of ${c.itemExpected}`,
    (raw) =>
      raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
        .map((s) => {
          try {
            return c.item(s);
          } catch {
            fail();
          }
        }),
    (v) => (v.length === 0 ? "(empty)" : v.join(",")),
  );
}

/** A value parsed by a custom function that throws to reject it. */
export function custom<T>(c: Common<T> & { expected: string; parse: (raw: string) => T; show?: (v: T) => string }): Spec<T> {
  return spec(
    c,
    c.expected,
    (raw) => {
      try {
        return c.parse(raw);
      } catch {
        fail();
      }
    },
    c.show,
  );
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
