import { ChainError } from "./chain-error.js";
import { loadNetwork, type NetworkParams } from "./network-params.js";

/** For a service's main.ts: the NETWORK setting, or one line on stderr and exit 2 (like a bad env var). */
export function loadNetworkOrExit(nameOrPath: string, variable = "NETWORK"): NetworkParams {
  try {
    return loadNetwork(nameOrPath);
  } catch (err) {
    if (!(err instanceof ChainError)) throw err;
    process.stderr.write(`invalid configuration: ${variable}="${nameOrPath}": ${err.message}\n`);
    process.exit(2);
  }
}
