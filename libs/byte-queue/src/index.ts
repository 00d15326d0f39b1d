export { ByteQueue } from "./byte-queue.js";
