export { LmdbEnvironment, StoreOpenError } from "./lmdb-environment.js";
