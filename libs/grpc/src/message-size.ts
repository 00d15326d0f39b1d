/**
 * grpc-js refuses messages over 4 MiB by default; a PutBlocks of 128 blocks
 * may legitimately be larger (blocks are up to 1 MiB each). 64 MiB bounds it.
 */
export const MAX_GRPC_MESSAGE_BYTES = 64 * 1024 * 1024;

export const MESSAGE_SIZE_OPTIONS = {
  "grpc.max_receive_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_GRPC_MESSAGE_BYTES,
};
