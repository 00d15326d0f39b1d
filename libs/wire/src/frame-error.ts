/** FRAME_TOO_LARGE: above the price of its kind; BAD_FRAME: unreadable; UNEXPECTED_FRAME: a kind the connection's phase does not allow. */
export type FrameErrorCode = "FRAME_TOO_LARGE" | "BAD_FRAME" | "UNEXPECTED_FRAME";

/** The byte stream cannot be read further; the connection must close with this code. */
export class FrameError extends Error {
  constructor(
    readonly code: FrameErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "FrameError";
  }
}
