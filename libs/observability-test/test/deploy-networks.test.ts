// deploy/networks as the services read it: the shipped testnet.json still holds
// placeholders, so every service that loads a network refuses to start with
// one line saying what to do, until the operator has pasted the producer keys.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devnetProducerKey } from "@timenet/chain";
import { DEPLOY, ROOT } from "./network.js";

/** The services whose main.js loads NETWORK (peer-registry does not read it). */
const SERVICES = ["p2p-gateway", "chain-sync", "block-store", "block-producer"] as const;
const TESTNET = join(DEPLOY, "networks", "testnet.json");
const PLACEHOLDER_LINE =
  `network file ${TESTNET}: producers[0] is still a placeholder: create each producer's key with ` +
  `"timenetctl producer-key create --out <file>" on its host and paste the printed public keys here (deploy/README.md, "Producer keys")`;

/** Runs a service's built main.js with NETWORK=`network` in `cwd`; asserts exit 2, nothing on stdout, and returns stderr. */
function refusedNetwork(service: string, network: string, cwd: string): string {
  const r = spawnSync(process.execPath, [join(ROOT, "apps", service, "dist", "src", "main.js")], {
    env: { PATH: process.env.PATH, NETWORK: network, NATS_URL: "nats://127.0.0.1:1", LOG_PRETTY: "false" },
    cwd,
    encoding: "utf8",
    timeout: 20_000,
  });
  assert.equal(r.status, 2, `${service} NETWORK=${network}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, "", `${service}: nothing on stdout`);
  return r.stderr;
}

describe("deploy/networks/testnet.json as shipped", () => {
  for (const service of SERVICES) {
    it(`${service}'s main.js exits 2 with one stderr line naming the placeholder (NETWORK by path, and by name as in Compose)`, () => {
      const scratch = mkdtempSync(join(tmpdir(), "placeholder-"));
      try {
        // By path from a scratch directory (nothing the service might create lands in the repo), and by name from the root.
        assert.equal(refusedNetwork(service, TESTNET, scratch), `invalid configuration: NETWORK="${TESTNET}": ${PLACEHOLDER_LINE}\n`);
        assert.equal(refusedNetwork(service, "testnet", ROOT), `invalid configuration: NETWORK="testnet": ${PLACEHOLDER_LINE}\n`);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    });
  }
});

describe("a network file that lists a devnet key under a name that is not devnet-*", () => {
  for (const service of SERVICES) {
    it(`${service}'s main.js refuses it: exit 2, one stderr line naming the field and the key`, () => {
      const scratch = mkdtempSync(join(tmpdir(), "devnet-key-"));
      try {
        const file = join(scratch, "lab.json");
        writeFileSync(file, JSON.stringify({ name: "lab", genesis_timestamp_ms: 1767225600000, producers: [devnetProducerKey(0).nodeId] }));
        const err = refusedNetwork(service, file, scratch);
        assert.match(err, /^invalid configuration: NETWORK="[^"]+": network file [^ ]+lab\.json: field "producers\[0\]" is devnet producer key 0, whose private key anyone can derive[^\n]*\n$/);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    });
  }
});
