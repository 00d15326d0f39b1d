// p2p-gateway entry point: configuration from the environment, then startGateway.
import { loadConfigOrExit } from "@timenet/config";
import { NodeKey } from "@timenet/node-key";
import { createLogger } from "@timenet/telemetry";
import { endpointsFromEnv, runMain } from "@timenet/service-runtime";
import { loadNetworkOrExit } from "@timenet/chain";
import { gatewayEnvChecks, gatewayEnvSchema } from "./config.js";
import { startGateway } from "./gateway.js";
import { softwareVersion } from "./software-version.js";

const env = loadConfigOrExit(gatewayEnvSchema, process.env, gatewayEnvChecks);
const network = loadNetworkOrExit(env.NETWORK);
const logger = createLogger({ service: "p2p-gateway", node: env.NODE_NAME, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });

await runMain("p2p-gateway", logger, async () => {
  const { key, created } = await NodeKey.loadOrCreate(env.NODE_KEY_FILE);
  logger.info({ node_id: key.nodeId, key_file: env.NODE_KEY_FILE, created }, created ? "created node key" : "loaded node key");
  return startGateway({
    ...endpointsFromEnv(env, logger),
    listenHost: env.P2P_HOST,
    listenPort: env.P2P_PORT,
    dialLocalAddress: env.DIAL_LOCAL_ADDRESS,
    namedPeers: env.NAMED_PEERS,
    network: network.name,
    genesisHash: env.GENESIS_HASH ?? network.genesisHash,
    announceMaxAgeMs: env.ANNOUNCE_MAX_AGE,
    blockPushMaxBytes: env.BLOCK_PUSH_MAX_BYTES,
    blockPushFanout: env.BLOCK_PUSH_FANOUT,
    softwareVersion: env.SOFTWARE_VERSION ?? softwareVersion(),
    nodeKey: key,
    pingIntervalMs: env.PING_INTERVAL,
    missedPongs: env.MISSED_PONGS,
    handshakeTimeoutMs: env.HANDSHAKE_TIMEOUT,
    maxFrameBytes: env.MAX_FRAME_BYTES,
    maxBlockBytes: network.maxBlockBytes,
    maxTxs: network.maxTxs,
    maxSendQueueBytes: env.MAX_SEND_QUEUE,
    dialTimeoutMs: env.DIAL_TIMEOUT,
    rateLimits: {
      getBlocks: env.RATE_LIMIT_GET_BLOCKS,
      getPeers: env.RATE_LIMIT_GET_PEERS,
      ping: env.RATE_LIMIT_PING,
      gossip: env.RATE_LIMIT_GOSSIP,
      gossipBytes: env.RATE_LIMIT_GOSSIP_BYTES,
      nodeBytes: env.RATE_LIMIT_NODE_BYTES,
      pushes: env.RATE_LIMIT_PUSHES,
      abuse: env.RATE_LIMIT_ABUSE,
    },
    acceptRates: { perIp: env.ACCEPT_RATE_PER_IP, perSubnet: env.ACCEPT_RATE_PER_SUBNET },
    admissionWaitMs: env.ADMISSION_WAIT,
    maxConnections: env.MAX_CONNECTIONS,
    maxSocketsPerIp: env.MAX_SOCKETS_PER_IP,
    handshakeEvictableAfterMs: env.HANDSHAKE_EVICTABLE_AFTER,
    seenCacheSize: env.GOSSIP_SEEN_CACHE,
    peerRequestTimeoutMs: env.PEER_REQUEST_TIMEOUT,
    maxBlockRequestsPerPeer: env.MAX_BLOCK_REQUESTS_PER_PEER,
    getBlocksPace: env.GET_BLOCKS_PACE,
    pushPace: env.PUSH_PACE,
    clockWarnOffsetMs: env.CLOCK_WARN_OFFSET,
    clockMinPeers: env.CLOCK_MIN_PEERS,
  });
});
