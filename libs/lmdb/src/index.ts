export { LmdbEnvironment, StoreOpenError, type LmdbOpenOptions } from "./lmdb-environment.js";
