// Test harness: real gateways on 127.0.0.k, each with its own real nats-server.
import { connect, createServer, type Server, type Socket } from "node:net";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { AdmissionPolicySchema, Buckets, DisconnectReason, ConnectionStateSchema, DialRequestSchema, StateKeys, type ConnectionState, EnvelopeSchema, HelloSchema, Subjects, type Envelope, type Hello } from "@timenet/proto";
import { NodeKey } from "@timenet/node-key";
import { Bus, StateBucket } from "@timenet/bus";
import { encodeFrame, encodeVarint, FrameDecoder } from "@timenet/wire";
import { createLogger } from "@timenet/telemetry";
import { nodePoolOf, startNatsServer, waitFor, type NatsServerHandle } from "@timenet/testkit";
export { nextEvent } from "@timenet/testkit";
import { listeningPort, normalizeIp, type PeerEndpoint, type PeerIp } from "@timenet/net-address";
import { buildHello, checkHello, HelloTimestamps, PROTOCOL_VERSION, type ChannelProof, type LocalIdentity } from "../src/hello.js";
import { SecureChannel, type ChannelRole } from "../src/secure-channel.js";
import { createChannelIdentity, type ChannelIdentity } from "../src/channel-identity.js";
import { startGateway, type Gateway } from "../src/gateway.js";
import { DEVNET_GENESIS_HASH } from "@timenet/chain";
import type { GatewayOptions } from "../src/options.js";
import { randomBytes } from "node:crypto";

/** Short intervals make timing tests fast; every test can override them. */
export const FAST: Partial<GatewayOptions> = {
  pingIntervalMs: 100,
  missedPongs: 3,
  handshakeTimeoutMs: 2_000,
  dialTimeoutMs: 2_000,
  closeGraceMs: 500,
  // Pings every 100 ms are 10/s: above the production default limit.
  rateLimits: { ping: { count: 50, periodMs: 1_000, burst: 50 } },
};

export interface TestNode {
  ip: PeerIp;
  gateway: Gateway;
  nats: NatsServerHandle;
  /** A separate client on the node's NATS, as another service would be. */
  bus: Bus;
  key: NodeKey;
  endpoint: PeerEndpoint;
  stop(): Promise<void>;
  /** Stops the gateway only (NATS and the test bus stay), for restarts. */
  stopGateway(): Promise<void>;
  restartGateway(extra?: Partial<GatewayOptions>): Promise<Gateway>;
}

const logLevel = process.env.TEST_LOG_LEVEL ?? "silent";

/** A node on 127.0.0.k, or on the given loopback address (127.0.5.1: a node in another /24). */
export async function startNode(k: number | string, extra: Partial<GatewayOptions> = {}): Promise<TestNode> {
  const ip = (typeof k === "string" ? k : `127.0.0.${k}`) as PeerIp;
  const nats = await startNatsServer({ jetstream: true });
  const bus = await Bus.connect({ servers: nats.url, name: `test-${k}` });
  const key = extra.nodeKey ?? NodeKey.generate();
  const base = (more: Partial<GatewayOptions>): GatewayOptions => ({
    node: `n${k}`,
    listenHost: ip,
    listenPort: 0,
    grpcPort: 0,
    metricsPort: 0,
    nodeKey: key,
    natsUrl: nats.url,
    logger: createLogger({ service: "p2p-gateway", node: `n${k}`, level: logLevel, pretty: false }),
    ...FAST,
    ...extra,
    ...more,
  });
  let gateway = await startGateway(base({}));
  const node: TestNode = {
    ip,
    gateway,
    nats,
    bus,
    key,
    endpoint: { ip, port: gateway.p2pPort },
    async stopGateway() {
      await node.gateway.stop();
    },
    async restartGateway(more = {}) {
      gateway = await startGateway(base(more));
      node.gateway = gateway;
      node.endpoint = { ip, port: gateway.p2pPort };
      return gateway;
    },
    async stop() {
      await node.gateway.stop();
      await bus.close();
      await nats.stop();
    },
  };
  return node;
}

/** Starts nodes for one test file and stops them all in its `after` hook. */
export function nodePool() {
  return nodePoolOf(startNode);
}

/** Collects every message on a subject, decoded, in arrival order. */
export function record<D extends DescMessage>(bus: Bus, subject: string, schema: D): MessageShape<D>[] {
  const got: MessageShape<D>[] = [];
  bus.subscribe(subject, schema, (m) => {
    got.push(m);
  });
  return got;
}

export async function metricValue(gw: Gateway, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await gw.registry.getSingleMetric(name)?.get();
  if (!m) throw new Error(`no metric ${name}`);
  let sum = 0;
  for (const v of m.values) {
    const l = v.labels as Record<string, string | number>;
    if (Object.entries(labels).every(([k, val]) => String(l[k]) === val) && !("le" in l)) sum += v.value;
  }
  return sum;
}

/** A frame whose envelope carries `payload` (already encoded) under Envelope field `field`, with an optional request id. */
export function rawFrame(field: number, payload: Uint8Array, requestId = 0): Buffer {
  const head = [...(requestId ? [0x08, ...encodeVarint(requestId)] : []), ...encodeVarint(field * 8 + 2), ...encodeVarint(payload.length)];
  const body = Buffer.concat([Buffer.from(head), payload]);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

/** Connected, handshaken attacker from `from`, answering pings like an honest peer (so only its attack is judged). */
export async function attacker(a: TestNode, from: string): Promise<ScriptedPeer> {
  const p = await ScriptedPeer.dial(a.endpoint, from);
  p.answerPings();
  await p.handshake();
  await waitFor(() => a.gateway.manager.isConnected(from as PeerIp), { message: "attacker connected" });
  return p;
}

/** Plays the registry's part over the node's real NATS: tells `from`'s gateway to dial `to`. */
export async function dialVia(from: TestNode, to: TestNode): Promise<void> {
  from.bus.publish(Subjects.registryDial, DialRequestSchema, { ip: to.ip, port: to.gateway.p2pPort, reason: "test" });
  await from.bus.flush();
}

/**
 * The node's connections as its gateway publishes them (bucket
 * P2P_CONNECTIONS), collected in order from now on: each established
 * connection, and each end with its reason.
 */
export async function connectionStates(n: TestNode): Promise<{ established: ConnectionState[]; ended: ConnectionState[] }> {
  const out: { established: ConnectionState[]; ended: ConnectionState[] } = { established: [], ended: [] };
  const bucket = await StateBucket.open(n.bus, Buckets.connections);
  const watch = await bucket.watch({ key: StateKeys.allConnections, decode: (_key, v) => fromBinary(ConnectionStateSchema, v) }, (c) => {
    if (c.op === "put") (c.value.ended ? out.ended : out.established).push(c.value);
  });
  await watch.initialized;
  out.established.length = 0; // only what happens from now on
  out.ended.length = 0;
  return out;
}

/** Writes an admission policy as the registry does (its KV state) without waiting for the gateway. */
export async function writePolicy(n: TestNode, policy: MessageInitShape<typeof AdmissionPolicySchema>): Promise<void> {
  const bucket = await StateBucket.open(n.bus, Buckets.admission);
  await bucket.put(StateKeys.admissionPolicy, AdmissionPolicySchema, policy);
}

/** Writes an admission policy as the registry does, and waits until the gateway has it in force. */
export async function pushPolicy(n: TestNode, policy: MessageInitShape<typeof AdmissionPolicySchema>): Promise<void> {
  const version = BigInt(Date.now()) * 1000n + BigInt(policySeq++);
  await writePolicy(n, { ...policy, version });
  await waitFor(async () => (await metricValue(n.gateway, "timenet_gateway_admission_policy_version")) === Number(version), { message: "policy applied" });
}
let policySeq = 0;

export async function waitConnected(a: TestNode, b: TestNode, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => a.gateway.manager.isConnected(b.ip) && b.gateway.manager.isConnected(a.ip), {
    timeoutMs,
    message: `${a.ip} <-> ${b.ip} connected`,
  });
}

/**
 * What a scripted peer puts in its Noise handshake message where its Hello
 * goes: given the handshake hash the Hello must be signed over. Default: its
 * honest Hello (`ScriptedPeer.hello`); a test may forge, skew or omit it.
 */
export type HelloScript = (peer: ScriptedPeer, binding: Uint8Array) => Uint8Array;

/**
 * A scripted peer on a real socket, speaking the real wire protocol with its
 * own key (the Noise channel, its Hello in its handshake message): it can
 * complete the handshake and then misbehave on purpose (stay silent, stop
 * reading, send garbage inside the channel or raw bytes outside it).
 */
export class ScriptedPeer {
  readonly frames: Envelope[] = [];
  readonly decoder = new FrameDecoder();
  readonly channel: SecureChannel;
  /** Why our channel failed, if it did. */
  channelFailure: { reason: DisconnectReason; detail: string } | undefined;
  private waiters: Array<() => void> = [];
  closed = false;
  /** Raw bytes received on the socket, channel included. */
  bytesIn = 0;
  /** What our handshake message carried as our Hello. */
  sentHello: Uint8Array | undefined;
  constructor(
    readonly socket: Socket,
    readonly local: LocalIdentity,
    role: ChannelRole = "initiator",
    /** What our Noise handshake claims (default: the truth about `local`); a test may forge it. */
    channelIdentity: ChannelIdentity = createChannelIdentity(local.key, local.network, local.genesisHash),
    helloScript: HelloScript = (peer, binding) => toBinary(HelloSchema, peer.hello(binding)),
  ) {
    this.channel = new SecureChannel(
      {
        write: (bytes) => {
          if (!socket.destroyed) socket.write(bytes);
        },
        helloFor: (binding) => (this.sentHello = helloScript(this, binding)),
        opened: () => this.wake(),
        failed: (reason, detail) => {
          this.channelFailure = { reason, detail };
          this.wake();
        },
      },
      { role, identity: channelIdentity },
    );
    socket.on("data", (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      try {
        for (const pt of this.channel.push(chunk)) for (const f of this.decoder.push(pt)) this.frames.push(f.envelope);
      } catch {
        /* the test decides what matters */
      }
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => undefined);
    this.channel.start();
  }

  private wake(): void {
    this.waiters.forEach((w) => w());
  }

  /** The gateway's Hello and what it must be signed over, once the Noise handshake completed. */
  get proof(): ChannelProof {
    const s = this.channel.session;
    if (!s) throw new Error("scripted peer: channel not open");
    return { remoteNodeId: s.remoteNodeId, handshakeHash: s.peerHelloBinding, otherNetwork: s.otherNetwork };
  }

  /** Waits for the Noise handshake; throws if it failed or the socket closed. */
  async secured(timeoutMs = 5_000): Promise<void> {
    await waitFor(() => this.channel.isOpen || this.channelFailure !== undefined || this.closed, { timeoutMs, message: "scripted peer: noise handshake" });
    if (!this.channel.isOpen) throw new Error(`scripted peer: channel not open (${this.channelFailure?.detail ?? "socket closed"})`);
  }

  /**
   * Our next Hello, signed over `binding`, saying we see the gateway at the
   * socket's remote address unless told; an identity is one session, so its
   * Hellos' timestamps strictly increase, as the gateway's do.
   */
  hello(binding: Uint8Array, o: { observedIp?: string; timestampMs?: bigint } = {}): Hello {
    let timestamps = ScriptedPeer.sessions.get(this.local);
    if (!timestamps) ScriptedPeer.sessions.set(this.local, (timestamps = new HelloTimestamps()));
    return buildHello(this.local, o.observedIp ?? normalizeIp(this.socket.remoteAddress ?? ""), o.timestampMs ?? timestamps.next(), binding);
  }

  /** The gateway's Hello from its handshake message (undecoded bytes once the channel opened). */
  get gatewayHello(): Hello {
    const s = this.channel.session;
    if (!s) throw new Error("scripted peer: channel not open");
    return fromBinary(HelloSchema, s.peerHello);
  }

  private static readonly sessions = new WeakMap<LocalIdentity, HelloTimestamps>();

  static identity(opts: { genesisHash?: Uint8Array; network?: string; key?: NodeKey } = {}): LocalIdentity {
    return {
      key: opts.key ?? NodeKey.generate(),
      network: opts.network ?? "devnet",
      genesisHash: opts.genesisHash ?? DEVNET_GENESIS_HASH,
      protocolVersion: PROTOCOL_VERSION,
      minProtocolVersion: PROTOCOL_VERSION,
      softwareVersion: "scripted",
      listenPort: 1,
      sessionId: randomBytes(16),
      sessionStartedMs: BigInt(Date.now()),
      tip: () => ({ height: 0, hash: new Uint8Array(32) }),
    };
  }

  /** Dials the target and completes the Noise handshake (our Hello in it), without waiting for the gateway to accept it. */
  static async dial(target: PeerEndpoint, localAddress: string, local = ScriptedPeer.identity(), o: ScriptOptions = {}): Promise<ScriptedPeer> {
    const peer = await ScriptedPeer.connect(target, localAddress, local, o);
    await peer.secured();
    return peer;
  }

  /** Dials the target; the Noise handshake runs, but nobody waits for it. */
  static async connect(target: PeerEndpoint, localAddress: string, local = ScriptedPeer.identity(), o: ScriptOptions = {}): Promise<ScriptedPeer> {
    const socket = connect({ host: target.ip, port: target.port, localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new ScriptedPeer(socket, local, "initiator", o.channelIdentity, o.hello);
  }

  /** Sends an envelope, or raw plaintext bytes, inside the channel (sealed: the peer knows they are ours). */
  send(env: Envelope | Uint8Array): void {
    const plaintext = env instanceof Uint8Array ? env : encodeFrame(env);
    this.socket.write(this.channel.seal(plaintext));
  }

  /** Writes raw bytes on the socket, outside the channel (what anyone on the path can do). */
  writeClear(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Waits until a frame matching the predicate has arrived (or the socket closed). */
  async next(pred: (e: Envelope) => boolean, timeoutMs = 5_000): Promise<Envelope | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      if (this.closed) return undefined;
      if (Date.now() > deadline) throw new Error("ScriptedPeer.next timed out");
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
      this.waiters = [];
    }
  }

  async waitClosed(timeoutMs = 10_000): Promise<void> {
    if (this.closed) return;
    await waitFor(() => this.closed, { timeoutMs, message: "scripted peer socket closed" });
  }

  /**
   * Completes the handshake as the real protocol requires and returns the
   * gateway's Hello, once the gateway accepted ours: checks the gateway's
   * Hello, then sends one Ping. Its Pong shows the gateway established the
   * connection (it answers pings only then; a refused Hello gets a Goodbye
   * instead). So does a Goodbye{EVICTED}: a gateway at capacity evicts only
   * established links, and may evict a newcomer before its Ping is read.
   */
  async handshake(): Promise<Hello> {
    await this.secured();
    const theirs = this.gatewayHello;
    const refusal = checkHello(this.local, theirs, this.proof);
    if (refusal) throw new Error(`gateway hello rejected by scripted peer: ${refusal.detail}`);
    const nonce = randomBytes(8).readBigUInt64BE();
    this.send(create(EnvelopeSchema, { payload: { case: "ping", value: { nonce } } }));
    const established = (e: Envelope) =>
      (e.payload.case === "pong" && e.payload.value.nonce === nonce) || (e.payload.case === "goodbye" && e.payload.value.reason === DisconnectReason.EVICTED);
    if (!(await this.next(established))) throw new Error(`gateway refused our hello: ${this.goodbyes().map((g) => JSON.stringify(g.payload.value)).join(", ") || "socket closed"}`);
    return theirs;
  }

  /** From now on answers every ping at once, as an honest peer does. */
  answerPings(): void {
    let seen = this.frames.length;
    const answer = () => {
      for (const e of this.frames.slice(seen)) {
        if (e.payload.case === "ping") this.send(create(EnvelopeSchema, { payload: { case: "pong", value: { nonce: e.payload.value.nonce } } }));
      }
      seen = this.frames.length;
    };
    answer();
    this.socket.on("data", answer);
  }

  goodbyes(): Envelope[] {
    return this.frames.filter((e) => e.payload.case === "goodbye");
  }

  /** The reason of the first Goodbye the gateway sent, or undefined if none came. */
  goodbyeReason(): DisconnectReason | undefined {
    const g = this.goodbyes()[0];
    return g?.payload.case === "goodbye" ? g.payload.value.reason : undefined;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** How a scripted peer's handshake goes: what its Noise message claims, and what it carries as its Hello. */
export interface ScriptOptions {
  channelIdentity?: ChannelIdentity;
  hello?: HelloScript;
}

/** A TCP listener that accepts and never says a word. */
export async function silentListener(host: string): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, port: listeningPort(server), sockets };
}
