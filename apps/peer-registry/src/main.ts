// peer-registry entry point: configuration from the environment, then startRegistry.
import { loadConfigOrExit } from "@timenet/config";
import { createLogger } from "@timenet/telemetry";
import { endpointsFromEnv, runMain } from "@timenet/service-runtime";
import { registryEnvChecks, registryEnvSchema } from "./config.js";
import { startRegistry } from "./registry.js";

const env = loadConfigOrExit(registryEnvSchema, process.env, registryEnvChecks);
const logger = createLogger({ service: "peer-registry", node: env.NODE_NAME, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });

await runMain("peer-registry", logger, async () => {
  return startRegistry({
    ...endpointsFromEnv(env, logger),
    dbPath: env.REGISTRY_DB_PATH,
    publicIp: env.PUBLIC_IP,
    bootstrapPeers: env.BOOTSTRAP_PEERS,
    allowList: env.ALLOW_LIST,
    targetOutbound: env.TARGET_OUTBOUND,
    maxInbound: env.MAX_INBOUND,
    maxPerSubnet: env.MAX_PER_SUBNET,
    subnetPrefixV4: env.SUBNET_PREFIX_V4,
    subnetPrefixV6: env.SUBNET_PREFIX_V6,
    passiveWaitMs: env.PASSIVE_WAIT,
    backoffMinMs: env.BACKOFF_MIN,
    backoffMaxMs: env.BACKOFF_MAX,
    stableAfterMs: env.STABLE_AFTER,
    dialGiveUpMs: env.DIAL_GIVE_UP,
    forgetAfterFailures: env.FORGET_AFTER_FAILURES,
    unverifiedMaxFailures: env.UNVERIFIED_MAX_FAILURES,
    maxBookSize: env.MAX_BOOK_SIZE,
    maxBans: env.MAX_BANS,
    policyMinIntervalMs: env.POLICY_MIN_INTERVAL,
    score: {
      lowPenalty: env.SCORE_LOW_PENALTY,
      midPenalty: env.SCORE_MID_PENALTY,
      banThreshold: env.BAN_THRESHOLD,
      halfLifeMs: env.SCORE_HALF_LIFE,
      banBaseMs: env.BAN_DURATION,
      banMaxMs: env.BAN_MAX,
    },
    peerExchangeIntervalMs: env.PEER_EXCHANGE_INTERVAL,
    peerExchangeMax: env.PEER_EXCHANGE_MAX,
    candidateRate: env.PEER_EXCHANGE_CANDIDATES,
    peerExchangeSources: env.PEER_EXCHANGE_SOURCES,
  });
});
