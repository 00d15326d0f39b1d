import type { DescEnum } from "@bufbuild/protobuf";

/**
 * The lower-case name of an enum value without its prefix, e.g.
 * DISCONNECT_REASON_PING_TIMEOUT -> "ping_timeout"; UNSPECIFIED (0) is `zero`.
 */
export function enumLabel(schema: DescEnum, value: number, zero = "-"): string {
  if (value === 0) return zero;
  const known = schema.value[value];
  return known ? known.localName.toLowerCase() : `unknown(${value})`;
}

/** The enum value whose label is `label` (as enumLabel prints it), or undefined. */
export function enumFromLabel(schema: DescEnum, label: string): number | undefined {
  const want = label.trim().toLowerCase();
  return schema.values.find((v) => v.number !== 0 && v.localName.toLowerCase() === want)?.number;
}
