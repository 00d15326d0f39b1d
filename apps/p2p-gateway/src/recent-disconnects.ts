import type { DisconnectReason } from "@timenet/proto";

export interface RecentDisconnectEntry {
  ip: string;
  reason: DisconnectReason;
  initiator: string;
  atMs: bigint;
  livedMs: bigint;
}

/** The last disconnects of established connections, newest first, bounded (for GetInfo / timenetctl status). */
export class RecentDisconnects {
  private readonly entries: RecentDisconnectEntry[] = [];

  constructor(private readonly max = 20) {}

  add(e: RecentDisconnectEntry): void {
    this.entries.unshift(e);
    if (this.entries.length > this.max) this.entries.length = this.max;
  }

  list(): RecentDisconnectEntry[] {
    return [...this.entries];
  }
}
