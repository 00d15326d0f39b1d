// One thread of one attack, in its own worker: the attacker's sealing and
// socket work stays off the runner's event loop, which samples the honest
// nodes meanwhile (as an attacker is on its own host).
import { parentPort, workerData } from "node:worker_threads";
import type { AttackSetup, Sent } from "./attack.js";
import { AttackContext } from "./attack-context.js";
import { ATTACKS } from "./attacks/index.js";

export interface WorkerInput {
  attack: string;
  setup: AttackSetup;
}

export interface WorkerOutput {
  sent: Sent;
  /** Why the attack itself failed (a bug in it, not the gateway's doing). */
  error?: string;
}

const { attack: name, setup } = workerData as WorkerInput;
const attack = ATTACKS.find((a) => a.name === name);
const ctx = new AttackContext(setup);
let error: string | undefined;
try {
  if (!attack) throw new Error(`no attack named ${name}`);
  await attack.run(ctx);
} catch (err) {
  error = (err as Error).stack ?? String(err);
} finally {
  await ctx.closeAll();
}
parentPort!.postMessage({ sent: ctx.sent, error } satisfies WorkerOutput);
