import { Command, Option } from "commander";
import { PeerState } from "@timenet/proto";
import type { CommandContext } from "./command-context.js";
import { addnodeCommand } from "./commands/addnode.js";
import { banCommand } from "./commands/ban.js";
import { peerCommand } from "./commands/peer.js";
import { peersCommand } from "./commands/peers.js";
import { producerKeyCreateCommand, producerKeyShowCommand } from "./commands/producer-key.js";
import { statsCommand } from "./commands/stats.js";
import { statusCommand } from "./commands/status.js";
import { statusAllCommand } from "./commands/status-all.js";
import type { CommandReport } from "./command-report.js";
import { DEFAULT_FLEET_FILE } from "./fleet-file.js";
import { DEFAULT_PORTS } from "./node-probes.js";
import { unbanCommand } from "./commands/unban.js";
import { daysOption, durationOption, listOption, portOption, STATE_CHOICES, stateOption, timeoutOption } from "./option-parsers.js";
import { operatorCaCreateCommand, operatorCertCreateCommand, type OperatorCertArgs } from "./commands/operator-tls.js";
import { operatorCredentials } from "./operator-credentials.js";
import { processOutput, type Output } from "./output.js";
import { DEFAULT_P2P_PORT, peerEndpointArgument, peerIpArgument } from "./peer-arguments.js";
import { nodeTarget, parseNode, registryTarget } from "./registry-target.js";
import { withRegistry } from "./registry-client.js";

export interface ProgramDeps {
  output?: Output;
  now?: () => number;
  /** Whether stdout is a terminal (colour); default: process.stdout.isTTY. */
  color?: boolean;
}

interface GlobalOptions {
  node: string;
  registryPort: number;
  timeout: number;
  json?: boolean;
  tlsDir?: string;
  config?: string;
}

/** The operator's client cert: --tls-dir, else TIMENET_TLS_DIR, else the config file (read only by commands that dial). */
const credentialsOf = (g: GlobalOptions) => operatorCredentials({ tlsDir: g.tlsDir, config: g.config, env: process.env });

interface StatusOptions {
  gatewayPort: number;
  syncPort: number;
  storePort: number;
  all?: boolean;
  hosts: string;
  compose?: boolean;
}

/**
 * Inside a node's Compose network every service has a name of its own (and
 * chain-sync replicas publish no host port), so `--compose` asks each by its
 * Compose service name: `docker-compose exec p2p-gateway timenetctl status --compose`.
 */
const COMPOSE_SERVICES = { gateway: "p2p-gateway", registry: "peer-registry", sync: "chain-sync", store: "block-store" } as const;

/** Commander's usage errors as one line: "timenetctl: unknown option '--jsn' (Did you mean --json?)". */
function usageLine(message: string): string {
  return `timenetctl: ${message.replace(/^error: /, "").trim().replace(/\s*\n\s*/g, " ")}\n`;
}

/**
 * The timenetctl program. Parse with `parseAsync(args, { from: "user" })`;
 * usage errors throw CommanderError (exitOverride), failures CliError.
 */
export function buildProgram({ output = processOutput, now = Date.now, color = process.stdout.isTTY === true }: ProgramDeps = {}): Command {
  const program = new Command("timenetctl")
    .description("Operator CLI of a timenet node: asks its services (gRPC) about its peers, chain and fleet; creates producer keys.")
    .option("--node <host>", "the node: host name, IP or [IPv6], optionally with :port", "127.0.0.1")
    .option("--registry-port <n>", "peer-registry gRPC port, when --node names none", portOption, DEFAULT_PORTS.registry)
    .option("--timeout <ms>", "deadline of each gRPC call, in ms", timeoutOption, 5000)
    .option("--json", "print the answer as JSON (protobuf JSON mapping; for scripts)")
    .option("--tls-dir <dir>", "operator TLS directory (ca.crt, tls.crt, tls.key) for mutual TLS; else $TIMENET_TLS_DIR, else tlsDir of the config file")
    .option("--config <file>", "config file, JSON {\"tlsDir\": \"...\"} (default $XDG_CONFIG_HOME/timenet/timenetctl.json or ~/.config/timenet/timenetctl.json)")
    .configureOutput({
      writeOut: (text) => output.out(text),
      writeErr: (text) => output.err(text),
      outputError: (text, write) => write(usageLine(text)),
    })
    .exitOverride();

  const run = async (command: Command, body: (ctx: CommandContext) => Promise<string>) => {
    const opts = command.optsWithGlobals<GlobalOptions>();
    const target = registryTarget(opts.node, opts.registryPort);
    const call = { deadlineMs: opts.timeout };
    const dial = { timeoutMs: opts.timeout, tls: credentialsOf(opts) };
    const text = await withRegistry(target, dial, (registry) => body({ registry, call, json: opts.json === true, now }));
    output.out(`${text}\n`);
  };

  program
    .command("peers")
    .description("list the peer book, then a summary line")
    .addOption(new Option("--state <state>", `only peers in this state (${STATE_CHOICES.join(", ")})`).argParser(stateOption))
    .action((opts: { state?: PeerState }, command: Command) =>
      run(command, (ctx) => peersCommand(ctx, opts.state ?? PeerState.UNSPECIFIED)),
    );

  /** An action whose first argument is a peer IP, checked before any call. */
  const withIp =
    <O>(body: (ctx: CommandContext, ip: string, opts: O) => Promise<string>) =>
    (raw: string, opts: O, command: Command) => {
      const ip = peerIpArgument(raw);
      return run(command, (ctx) => body(ctx, ip, opts));
    };
  const IP_ARGUMENT = "the peer's IP";

  program
    .command("peer")
    .description("show every field of one peer")
    .argument("<ip>", IP_ARGUMENT)
    .action(withIp((ctx, ip) => peerCommand(ctx, ip)));

  program
    .command("ban")
    .description("ban a peer: it is disconnected and refused until the ban lapses")
    .argument("<ip>", IP_ARGUMENT)
    .option("--duration <d>", "how long: 30s, 10m, 2h, 1d (0 or absent: the registry's default)", durationOption)
    .option("--reason <text>", "why, shown in `peers` and the logs")
    .action(
      withIp((ctx, ip, opts: { duration?: number; reason?: string }) => banCommand(ctx, ip, opts.duration ?? 0, opts.reason ?? "")),
    );

  program
    .command("unban")
    .description("lift a peer's ban")
    .argument("<ip>", IP_ARGUMENT)
    .action(withIp((ctx, ip) => unbanCommand(ctx, ip)));

  program
    .command("addnode")
    .description("add a persistent peer that the node dials and keeps connected")
    .argument("<endpoint>", `ip, ip:port or [ipv6]:port (port ${DEFAULT_P2P_PORT} when absent)`)
    .action((raw: string, _opts: unknown, command: Command) => {
      const endpoint = peerEndpointArgument(raw);
      return run(command, (ctx) => addnodeCommand(ctx, endpoint));
    });

  program
    .command("stats")
    .description("the registry's counters")
    .action((_opts: unknown, command: Command) => run(command, (ctx) => statsCommand(ctx)));

  // Local: no node is asked. Run on the producer's host (or in its container, where the key volume is).
  const producerKey = program.command("producer-key").description("create or show a block producer's ed25519 key file (local; asks no node)");
  const local = async (command: Command, body: (json: boolean) => Promise<string>) => {
    output.out(`${await body(command.optsWithGlobals<GlobalOptions>().json === true)}\n`);
  };
  producerKey
    .command("create")
    .description("write a new key file (mode 0600; never overwrites) and print its public key for the network file's producers")
    .requiredOption("--out <file>", "the key file to create, e.g. the PRODUCER_KEY_FILE of the producer (/app/data/producer.key in its container)")
    .action((opts: { out: string }, command: Command) => local(command, (json) => producerKeyCreateCommand(opts.out, json)));
  producerKey
    .command("show")
    .description("print the public key of an existing key file")
    .requiredOption("--key <file>", "the key file")
    .action((opts: { key: string }, command: Command) => local(command, (json) => producerKeyShowCommand(opts.key, json)));

  // Local: the operator plane's CA and certificates (deploy/README.md "Operator TLS").
  program
    .command("operator-ca")
    .description("the operator CA that signs every host's and operator's TLS certificate (local; asks no node)")
    .command("create")
    .description("write DIR/ca.crt and DIR/ca.key (mode 0600; never overwrites); once per fleet, keep ca.key offline")
    .requiredOption("--out <dir>", "the CA directory")
    .action((opts: { out: string }, command: Command) => local(command, (json) => operatorCaCreateCommand(opts.out, json)));
  program
    .command("operator-cert")
    .description("TLS directories for hosts and operators, signed by the operator CA (local; asks no node)")
    .command("create")
    .description("write DIR2/ca.crt, tls.crt, tls.key (0600): a cert for server and client auth; SANs: localhost, 127.0.0.1, --name, --dns, --ip")
    .requiredOption("--ca <dir>", "the CA directory (ca.crt, ca.key) of `operator-ca create`")
    .requiredOption("--out <dir>", "the TLS directory to create")
    .requiredOption("--name <name>", "the host's or operator's name (its common name; a SAN too)")
    .option("--dns <names>", "more DNS names, comma-separated (a host: p2p-gateway,peer-registry,chain-sync,block-store,block-producer)", listOption, [])
    .option("--ip <ips>", "more IP addresses, comma-separated (a host: its private/VPN address)", listOption, [])
    .option("--days <n>", "validity in days (default 825)", daysOption)
    .action((opts: OperatorCertArgs, command: Command) => local(command, (json) => operatorCertCreateCommand(opts, json)));

  /** A report command: its text goes to stdout even when it ends in a failure (then the exit code). */
  const report = async (body: () => Promise<CommandReport>) => {
    const { text, failure } = await body();
    output.out(`${text}\n`);
    if (failure) throw failure;
  };

  program
    .command("status")
    .description("one node at a glance: identity, height and sync, peers, recent disconnects; --all: every host of a fleet")
    .option("--gateway-port <n>", "p2p-gateway gRPC port (a port in --node wins)", portOption, DEFAULT_PORTS.gateway)
    .option("--sync-port <n>", "chain-sync gRPC port", portOption, DEFAULT_PORTS.sync)
    .option("--store-port <n>", "block-store gRPC port", portOption, DEFAULT_PORTS.store)
    .option("--all", "every host of the fleet file: host table, connection matrix, drift and forks")
    .option("--hosts <file>", "the fleet file of --all: JSON [{name, address, gateway_port?, store_port?, p2p_ip?}]", DEFAULT_FLEET_FILE)
    .option("--compose", "inside the node's Compose network: each service by its service name (p2p-gateway, chain-sync, ...)")
    .action((opts: StatusOptions, command: Command) => {
      const g = command.optsWithGlobals<GlobalOptions>();
      const common = { timeoutMs: g.timeout, tls: credentialsOf(g), json: g.json === true, now };
      if (opts.all) {
        return report(() =>
          statusAllCommand({ ...common, hostsFile: opts.hosts, ports: { gateway: opts.gatewayPort, store: opts.storePort }, color }),
        );
      }
      // Each service's host: the --node's, or with --compose its service name.
      const node = opts.compose ? undefined : parseNode(g.node);
      const host = (service: keyof typeof COMPOSE_SERVICES) => node?.host ?? COMPOSE_SERVICES[service];
      const targets = {
        gateway: node ? nodeTarget(node, opts.gatewayPort) : `${host("gateway")}:${opts.gatewayPort}`,
        sync: `${host("sync")}:${opts.syncPort}`,
        store: `${host("store")}:${opts.storePort}`,
        registry: `${host("registry")}:${g.registryPort}`,
      };
      return report(() => statusCommand({ ...common, node: opts.compose ? "compose" : g.node, targets }));
    });

  return program;
}
