import type { DescEnum } from "@bufbuild/protobuf";

/**
 * The one enum -> label mapping of every metric label, log field and CLI
 * column: the value's name without its prefix, lower case
 * (DISCONNECT_REASON_PING_TIMEOUT -> "ping_timeout"). The zero value prints as
 * `zero` ("unspecified" unless the caller shows it otherwise); a number the
 * schema does not know (a newer peer or service) as "unknown", so labels stay a
 * bounded set whatever arrives.
 */
export function enumLabel(schema: DescEnum, value: number, zero = "unspecified"): string {
  if (value === 0) return zero;
  const known = schema.value[value];
  return known ? known.localName.toLowerCase() : "unknown";
}

/** The enum value whose label is `label` (as enumLabel prints it), or undefined. */
export function enumFromLabel(schema: DescEnum, label: string): number | undefined {
  const want = label.trim().toLowerCase();
  return schema.values.find((v) => v.number !== 0 && v.localName.toLowerCase() === want)?.number;
}
