import { open, type RootDatabase } from "lmdb";

/** The environment could not be opened (path, permissions, another process's lock, a corrupt file). */
export class StoreOpenError extends Error {
  readonly code = "ERR_STORE_OPEN";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreOpenError";
  }
}

export interface LmdbOpenOptions {
  /**
   * Open for reading only (default false): another thread or process of the
   * same host writes, this one reads the same environment, whose tables must
   * already exist.
   */
  readOnly?: boolean;
  /**
   * Page size of a new environment, in bytes (default: the OS page, 4096).
   * An existing environment keeps the size it was created with, whatever
   * this says. Larger pages suit values near 1 KiB (blocks): more to a page,
   * fewer pages to write per commit.
   */
  pageSize?: number;
}

/**
 * One LMDB environment (a directory) and its named tables. LMDB commits
 * whole transactions copy-on-write, so a crash leaves every table as it was
 * before or after a commit, never torn; reads are memory-mapped.
 */
export class LmdbEnvironment<Tables> {
  private constructor(
    readonly root: RootDatabase,
    readonly tables: Tables,
  ) {}

  /**
   * Opens (creating) the environment at `path` and its tables; `what` names it
   * in the error ("the peer book"). A failure to open the tables closes the
   * environment again.
   */
  static async open<Tables>(path: string, what: string, openTables: (root: RootDatabase) => Tables, options: LmdbOpenOptions = {}): Promise<LmdbEnvironment<Tables>> {
    let root: RootDatabase;
    try {
      root = open({ path, compression: false, readOnly: options.readOnly ?? false, ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }) });
    } catch (err) {
      throw new StoreOpenError(`cannot open ${what} at ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return new LmdbEnvironment(root, openTables(root));
    } catch (err) {
      await root.close();
      throw new StoreOpenError(`cannot open the tables of ${what} at ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Resolves when every write so far is durable (at once for a read-only environment, which has no writes). */
  flushed(): Promise<void> {
    // lmdb-js has no `flushed` on a read-only root.
    const flushed = this.root.flushed as Promise<unknown> | undefined;
    return flushed === undefined ? Promise.resolve() : flushed.then(() => undefined);
  }

  /** Flushes, then closes. */
  async close(): Promise<void> {
    await this.flushed();
    await this.root.close();
  }
}
