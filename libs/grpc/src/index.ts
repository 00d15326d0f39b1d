export { startGrpcServer, type GrpcLogger, type GrpcServerHandle, type GrpcServerOptions } from "./grpc-server.js";
export { createGrpcClient, type GrpcClientOptions } from "./grpc-client.js";
export { channelCredentials, serverCredentials, type MutualTls } from "./mutual-tls.js";
export { GrpcStatusError } from "./status-error.js";
export { toServiceDefinition, type RequestDecoders, type RequestEncoders } from "./service-definition.js";
export { reflectionPackage } from "./reflection.js";
export type { CallContext, ServiceClient, ServiceImpl } from "./service-types.js";
export { MAX_GRPC_MESSAGE_BYTES } from "./message-size.js";
