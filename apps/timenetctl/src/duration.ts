// Durations as an operator types and reads them: 30s, 10m, 2h, 1d (and 1h30m).

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const LARGEST_FIRST = (["d", "h", "m", "s"] as const).map((unit) => [unit, UNIT_MS[unit]!] as const);

/** Milliseconds of "30s", "10m", "2h", "1d", "1h30m", "250ms"; "0" is 0. Throws a one-line Error otherwise. */
export function parseDuration(text: string): number {
  const s = text.trim().toLowerCase();
  if (/^0+$/.test(s)) return 0;
  if (/^\d+$/.test(s)) throw new Error(`duration "${text}" needs a unit: e.g. 30s, 10m, 2h or 1d`);
  if (!/^(\d+(ms|s|m|h|d))+$/.test(s)) throw new Error(`"${text}" is not a duration: e.g. 30s, 10m, 2h or 1d`);
  let total = 0;
  for (const [, amount, unit] of s.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(amount) * UNIT_MS[unit!]!;
  if (!Number.isSafeInteger(total)) throw new Error(`duration "${text}" is too long`);
  return total;
}

/** "2h 5m", "1d", "45s": the two largest units, rounded down; under a second is "0s". */
export function formatDuration(ms: number): string {
  const rest = Math.max(0, Math.floor(ms));
  const first = LARGEST_FIRST.findIndex(([, size]) => rest >= size);
  if (first < 0) return "0s";
  const [unit, size] = LARGEST_FIRST[first]!;
  const head = `${Math.floor(rest / size)}${unit}`;
  const next = LARGEST_FIRST[first + 1];
  if (!next) return head;
  const tail = Math.floor((rest % size) / next[1]);
  return tail > 0 ? `${head} ${tail}${next[0]}` : head;
}
