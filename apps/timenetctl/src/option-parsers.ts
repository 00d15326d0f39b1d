import { InvalidArgumentError } from "commander";
import { PeerStateSchema, type PeerState, enumFromLabel } from "@timenet/proto";
import { parseDuration } from "./duration.js";

// Commander argument parsers: a bad value becomes commander's one-line usage error (exit 2).

export function portOption(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new InvalidArgumentError("expected a port, 1-65535");
  return n;
}

export function timeoutOption(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && Number.isSafeInteger(n))) throw new InvalidArgumentError("expected milliseconds, a whole number above 0");
  return n;
}

export function durationOption(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export const STATE_CHOICES = ["connected", "disconnected", "banned"] as const;

export function stateOption(text: string): PeerState {
  const state = STATE_CHOICES.includes(text as never) ? enumFromLabel(PeerStateSchema, text) : undefined;
  if (state === undefined) throw new InvalidArgumentError(`expected ${STATE_CHOICES.join(", ")}`);
  return state as PeerState;
}

/** "a,b, c" as ["a", "b", "c"] (empty items dropped). */
export function listOption(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export function daysOption(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 36500)) throw new InvalidArgumentError("expected days, a whole number from 1");
  return n;
}
