import { machineCpuMs, processCpuMs } from "@timenet/testkit";

/** Named parts of a node: process ids whose CPU is summed, or "self" for this process. */
export type CpuParts = Record<string, number[] | "self">;

function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * CPU spent by each part of a node between its construction and report():
 * where a sync's time goes when the machine's cores, not the network, are the limit.
 */
export class CpuMeter {
  private readonly start: Map<string, number>;
  private readonly machineStart = machineCpuMs();

  constructor(private readonly parts: CpuParts) {
    this.start = new Map(Object.keys(parts).map((name) => [name, this.read(name)]));
  }

  private read(name: string): number {
    const p = this.parts[name]!;
    return p === "self" ? selfCpuMs() : p.reduce((sum, pid) => sum + (processCpuMs(pid) ?? 0), 0);
  }

  /**
   * "cpu ms per 1,000 blocks: part X, …, total T (C cores busy, S % stolen)". The steal is the share of
   * the machine's time its hypervisor gave other guests: on a shared VM it moves a run's rate as much
   * as anything measured here, and says when two runs are not comparable.
   */
  report(blocks: number, wallMs: number): string {
    let total = 0;
    const each = Object.keys(this.parts).map((name) => {
      const ms = this.read(name) - this.start.get(name)!;
      total += ms;
      return `${name} ${Math.round((ms * 1000) / blocks)}`;
    });
    const m = machineCpuMs();
    const all = m.all - this.machineStart.all;
    const stolen = all > 0 ? `, ${(((m.steal - this.machineStart.steal) * 100) / all).toFixed(0)} % stolen` : "";
    return `cpu ms per 1,000 blocks: ${each.join(", ")}, total ${Math.round((total * 1000) / blocks)} (${(total / wallMs).toFixed(2)} cores busy${stolen})`;
  }
}
