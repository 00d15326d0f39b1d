import { open, stat } from "node:fs/promises";

/** A pino JSON line, the fields the suite reads. */
export interface LogLine {
  msg?: string;
  peer_ip?: string;
  [field: string]: unknown;
}

/**
 * Reads what a service appended to its log since `mark()`: the JSON lines
 * that say who closed, blamed or banned whom during one attack.
 */
export class LogTail {
  private offset = 0;

  constructor(readonly path: string) {}

  async mark(): Promise<void> {
    this.offset = await size(this.path);
  }

  /** The lines appended since the mark (and moves the mark past them); unparseable lines are skipped. */
  async lines(): Promise<LogLine[]> {
    const end = await size(this.path);
    if (end <= this.offset) return [];
    const f = await open(this.path, "r");
    try {
      const buf = Buffer.alloc(end - this.offset);
      await f.read(buf, 0, buf.length, this.offset);
      // Whole lines only: a line still being written is read next time.
      const whole = buf.lastIndexOf(0x0a) + 1;
      this.offset += whole;
      const out: LogLine[] = [];
      for (const line of buf.subarray(0, whole).toString("utf8").split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          out.push(JSON.parse(line) as LogLine);
        } catch {
          /* not a log record (a stack trace line) */
        }
      }
      return out;
    } finally {
      await f.close();
    }
  }
}

async function size(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
