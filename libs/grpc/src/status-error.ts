import type { status } from "@grpc/grpc-js";

/** Thrown by a handler to answer with a specific gRPC status; anything else becomes INTERNAL. */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = "GrpcStatusError";
  }
}
