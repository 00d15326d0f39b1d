import { connect, type Socket } from "node:net";
import { once } from "node:events";
import type { PeerEndpoint } from "@timenet/net-address";
import { ScriptedPeer } from "../test/harness.js";
import { emptySent, type AttackSetup, type Sent, type Tally } from "./attack.js";
import { ByteBudget } from "./byte-budget.js";

/** Plaintext sealed per write: big frames go out in pieces, as the socket drains. */
const SEAL_PIECE_BYTES = 1024 * 1024;

/**
 * One attack thread's means: source addresses in its /24s, sockets bound to
 * them, attacker peers (a real Noise + Hello handshake with their own key),
 * writes that respect the socket's backpressure, the deadline and the byte
 * bound, and the tally of what was sent. Every socket it opened is closed by
 * `closeAll` when the attack returns.
 */
export class AttackContext {
  readonly sent: Sent = emptySent();
  /** What this thread's clients counted, for the attack's verify. */
  readonly tally: Tally = {};
  readonly budget: ByteBudget;
  private readonly open = new Set<Socket>();

  constructor(readonly setup: AttackSetup) {
    this.budget = new ByteBudget(setup.maxBytes);
  }

  /** Adds `by` to the tally `name`. */
  count(name: string, by = 1): void {
    this.tally[name] = (this.tally[name] ?? 0) + by;
  }

  /** Still before the deadline and within the byte bound. */
  get running(): boolean {
    return Date.now() < this.setup.deadline && !this.budget.spent;
  }

  /** Milliseconds left before the deadline. */
  get remainingMs(): number {
    return Math.max(0, this.setup.deadline - Date.now());
  }

  /** The i-th source address: consecutive i take consecutive /24s, then the next host in each. */
  address(i: number): string {
    const subnets = this.setup.subnets;
    const s = subnets[i % subnets.length]!;
    return `${s.prefix}.${1 + (Math.floor(i / subnets.length) % 254)}`;
  }

  /** The i-th address of one /24 (hosts .1 to .254). */
  hostIn(subnet: number, i: number): string {
    return `${this.setup.subnets[subnet % this.setup.subnets.length]!.prefix}.${1 + (i % 254)}`;
  }

  /** Victim of the i-th client: round-robin over the targets. */
  target(i: number): PeerEndpoint {
    return this.setup.targets[i % this.setup.targets.length]!;
  }

  /** Runs `n` clients, each repeating `body` until the deadline or the byte bound (a failed round is retried after 20 ms). */
  async clients(n: number, body: (i: number) => Promise<void>): Promise<void> {
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        while (this.running) {
          try {
            await body(i);
          } catch {
            await this.pause(20);
          }
        }
      }),
    );
  }

  /**
   * Runs `n` attacker peers: client i dials target(i) from address(i) (the
   * handshake as `o` says), hands the peer to `body`, closes it when `body`
   * returns and dials again; a refused dial waits `retryMs` (default 100).
   * Deaf peers (the default) do not read what the gateway sends them.
   */
  async peers(
    n: number,
    o: { hello: boolean; listen?: boolean; identity?: () => ReturnType<typeof ScriptedPeer.identity>; retryMs?: number },
    body: (p: ScriptedPeer, i: number) => Promise<void>,
  ): Promise<void> {
    await this.clients(n, async (i) => {
      const p = await this.peer(this.target(i), this.address(i), { hello: o.hello, ...(o.identity ? { identity: o.identity() } : {}) });
      if (!p) return this.pause(o.retryMs ?? 100);
      if (!o.listen) this.deaf(p);
      try {
        await body(p, i);
      } finally {
        p.close();
      }
    });
  }

  /** Waits ms, or less if the deadline comes first. */
  pause(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, Math.min(ms, this.remainingMs)));
  }

  /** A TCP socket from `localAddress`; undefined (counted as refused) when it did not open or closed at once. */
  async socket(target: PeerEndpoint, localAddress: string, timeoutMs = 3_000): Promise<Socket | undefined> {
    const s = connect({ host: target.ip, port: target.port, localAddress });
    this.track(s);
    const ok = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), Math.min(timeoutMs, this.remainingMs));
      s.once("connect", () => {
        clearTimeout(t);
        resolve(true);
      });
      s.once("error", () => {
        clearTimeout(t);
        resolve(false);
      });
    });
    if (!ok) {
      s.destroy();
      this.sent.refused++;
      return undefined;
    }
    s.on("error", () => undefined);
    this.sent.sockets++;
    return s;
  }

  /**
   * An attacker peer from `localAddress`: the Noise handshake done with its
   * Hello in it, accepted by the gateway, when `hello`; when not, with an
   * empty Hello in its place (the gateway refuses it as it reads it, and
   * whatever follows is never read). Undefined when the gateway refused or
   * closed first. Its own key unless `identity` is given.
   */
  async peer(target: PeerEndpoint, localAddress: string, o: { hello: boolean; identity?: ReturnType<typeof ScriptedPeer.identity> }): Promise<ScriptedPeer | undefined> {
    const socket = await this.socket(target, localAddress);
    if (!socket) return undefined;
    const p = new ScriptedPeer(socket, o.identity ?? ScriptedPeer.identity(), "initiator", undefined, o.hello ? undefined : () => new Uint8Array(0));
    try {
      await p.secured(Math.max(1, Math.min(5_000, this.remainingMs)));
      if (o.hello) await p.handshake();
    } catch {
      p.close();
      return undefined;
    }
    this.sent.handshakes++;
    return p;
  }

  /**
   * Stops decrypting and decoding what the gateway sends this peer (an
   * attacker does not pay for reading); the bytes are still read, so the
   * gateway's send queue to it drains.
   */
  deaf(p: ScriptedPeer): void {
    p.socket.removeAllListeners("data");
    p.frames.length = 0;
    p.socket.on("data", () => undefined);
  }

  /** Writes raw bytes with backpressure; false when the bound is spent, the deadline passed or the socket is gone. */
  async write(s: Socket, bytes: Uint8Array): Promise<boolean> {
    if (s.destroyed || !this.running || !this.budget.take(bytes.length)) return false;
    if (!s.write(bytes)) await this.drained(s);
    return !s.destroyed;
  }

  /** Seals plaintext into the peer's channel in pieces, each written as the socket drains. */
  async seal(p: ScriptedPeer, plaintext: Uint8Array): Promise<boolean> {
    for (let at = 0; at < plaintext.length; at += SEAL_PIECE_BYTES) {
      if (p.socket.destroyed || !this.running) return false;
      if (!(await this.write(p.socket, p.channel.seal(plaintext.subarray(at, at + SEAL_PIECE_BYTES))))) return false;
    }
    return true;
  }

  /** Resolves when the socket closed, or at the deadline. */
  async closed(s: Socket): Promise<void> {
    if (s.destroyed) return;
    await new Promise<void>((r) => {
      const t = setTimeout(r, this.remainingMs);
      s.once("close", () => {
        clearTimeout(t);
        r();
      });
    });
  }

  /** Destroys every socket still open and waits until each is closed. */
  async closeAll(): Promise<void> {
    const all = [...this.open];
    const gone = Promise.all(all.map((s) => (s.closed ? undefined : once(s, "close"))));
    for (const s of all) s.destroy();
    await gone;
  }

  /** Keeps the socket for closeAll, and counts every byte written on it (the harness's handshake writes included). */
  private track(s: Socket): void {
    this.open.add(s);
    s.once("close", () => this.open.delete(s));
    const write = s.write;
    s.write = ((chunk: Uint8Array | string, ...rest: unknown[]) => {
      this.sent.bytes += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
      return (write as (...a: unknown[]) => boolean).call(s, chunk, ...rest);
    }) as Socket["write"];
  }

  private async drained(s: Socket): Promise<void> {
    if (s.destroyed) return;
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(), this.remainingMs);
    try {
      await Promise.race([once(s, "drain", { signal: ac.signal }), once(s, "close", { signal: ac.signal })]);
    } catch {
      /* the deadline came first */
    } finally {
      clearTimeout(t);
      ac.abort();
    }
  }
}
