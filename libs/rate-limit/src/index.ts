export { formatRate, parseRate, TokenBucket, type Rate } from "./token-bucket.js";
