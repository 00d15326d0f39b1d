// One thread of one attack, in its own worker: the attacker's sealing and
// socket work stays off the runner's event loop, which samples the honest
// nodes meanwhile (as an attacker is on its own host).
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import type { AttackSetup, Sent, Tally } from "./attack.js";
import { AttackContext } from "./attack-context.js";
import { ATTACKS } from "./attacks/index.js";

export interface WorkerInput {
  attack: string;
  setup: AttackSetup;
  /** Runs the attack's honest probe, at normal priority, instead of the attack. */
  probe?: boolean;
}

export interface WorkerOutput {
  sent: Sent;
  tally: Tally;
  /** Why the attack itself failed (a bug in it, not the gateway's doing). */
  error?: string;
}

// On a real network the attacker's CPU is its own host's; here it shares two cores with the honest nodes. At the
// lowest priority (on Linux this thread only) it takes every cycle the honest nodes leave, so a gateway's event-loop
// delay is what the attack costs the gateway, not the scheduler splitting a core between the gateway and the
// attacker's sealing (a gateway window at 145 ms was that: CI of 7f84670). Where it is not allowed, nothing changes.
const { attack: name, setup, probe } = workerData as WorkerInput;
if (!probe) {
  try {
    setPriority(19);
  } catch {
    // left at the runner's priority
  }
}

const attack = ATTACKS.find((a) => a.name === name);
const ctx = new AttackContext(setup);
let error: string | undefined;
try {
  if (!attack) throw new Error(`no attack named ${name}`);
  await (probe ? attack.probe?.(ctx) : attack.run(ctx));
} catch (err) {
  error = (err as Error).stack ?? String(err);
} finally {
  await ctx.closeAll();
}
parentPort!.postMessage({ sent: ctx.sent, tally: ctx.tally, error } satisfies WorkerOutput);
