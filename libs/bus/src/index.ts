export { Bus, type BusEvents, type BusOptions, type BusStatus, type BusSubscription, type MessageContext } from "./bus.js";
export { BusError, type BusErrorCode } from "./bus-error.js";
export { type ReadStatus } from "./bucket-reader.js";
export { jetStreamLoss } from "./jetstream-loss.js";
export { busLogHooks } from "./log-hooks.js";
export { StateBucket, type FollowOptions, type StateBucketLimits, type StateChange, type StateWatch } from "./state-bucket.js";
