// The contracts, generated from proto/ by `buf generate` at build time.
export * from "./gen/timenet/chain/v1/block_pb.js";
export * from "./gen/timenet/chain/v1/block_store_pb.js";
export * from "./gen/timenet/sync/v1/sync_pb.js";
export * from "./gen/timenet/p2p/v1/wire_pb.js";
export * from "./gen/timenet/p2p/v1/bus_pb.js";
export * from "./gen/timenet/p2p/v1/state_pb.js";
export * from "./gen/timenet/gateway/v1/gateway_service_pb.js";
export * from "./gen/timenet/registry/v1/registry_pb.js";
export * from "./gen/timenet/producer/v1/producer_pb.js";
export * from "./subjects.js";
export { enumLabel, enumFromLabel } from "./enum-label.js";
export { decodeGatewayState, peerTipOf, type GatewayStateValue } from "./gateway-state.js";
export { NATS_GRANTS, NATS_PASSWORD_ENV, NATS_USERS, natsInboxPrefix, natsPermissions, type NatsGrant, type NatsPermissions, type NatsUser } from "./nats-permissions.js";
export { renderNatsAuthorization, renderNatsPermissionTable } from "./nats-config.js";
