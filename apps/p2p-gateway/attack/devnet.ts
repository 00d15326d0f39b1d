// Typed access to the devnet library (deploy/devnet/network.mjs, plain
// JavaScript shared with `npm run soak`): the attack suite starts the same
// real service processes, on its own addresses and directory.

export interface DevnetHandle {
  nodes: number;
  logs: string;
  ports: { p2p: number; nats: number; services: Record<string, { grpc: number; metrics: number }> };
  ipOf(k: number): string;
  processes(): Array<{ name: string; pid: number | undefined }>;
  /** The read-only NATS user (each node's NATS runs with one user per service). */
  natsOperator: { user: string; pass: string };
  stop(): Promise<void>;
}

export interface DevnetOptions {
  nodes: number;
  workers: number;
  producers: number;
  reset: boolean;
  ipBase: string;
  dir: string;
  /** Every service's NETWORK: "devnet" or a network file. */
  network: string;
  /** Extra variables for every service. */
  env?: Record<string, string>;
  onNodeStarting?: (k: number) => void;
  onExit?: (name: string, code: number | string | null) => void;
}

interface NetworkLib {
  ROOT: string;
  build(): void;
  startDevnet(o: DevnetOptions): Promise<DevnetHandle>;
  sample(text: string, name: string, labels?: Record<string, string>): number | undefined;
  metricsText(url: string): Promise<string>;
}

/** deploy/devnet/network.mjs, from apps/p2p-gateway/dist/attack/. */
const NETWORK_LIB = new URL("../../../../deploy/devnet/network.mjs", import.meta.url);

export async function loadNetworkLib(): Promise<NetworkLib> {
  return (await import(NETWORK_LIB.href)) as NetworkLib;
}
