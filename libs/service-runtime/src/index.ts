export { CleanupStack } from "./cleanup-stack.js";
export { runMain, type Stoppable } from "./run-main.js";
