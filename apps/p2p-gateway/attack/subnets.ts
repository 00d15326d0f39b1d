import type { Subnet } from "./attack.js";

/** First second octet of the attackers' /24s: far from the devnet's 127.0.x.y. */
const FIRST_OCTET = 10;
const LAST_OCTET = 255;

/**
 * Hands out attacker /24s of 127.0.0.0/8 (all of it is loopback on Linux,
 * so a socket may bind any address in it): 127.10.0.0/24, 127.10.1.0/24, …
 * Never the same /24 twice in a run, so one attack's bans and per-/24
 * counts do not blunt the next.
 */
export class SubnetAllocator {
  private next = 0;

  take(n: number): Subnet[] {
    const out: Subnet[] = [];
    for (let i = 0; i < n; i++, this.next++) {
      const second = FIRST_OCTET + Math.floor(this.next / 256);
      if (second > LAST_OCTET) throw new Error("attack: out of attacker /24s in 127.0.0.0/8");
      out.push({ prefix: `127.${second}.${this.next % 256}` });
    }
    return out;
  }
}
