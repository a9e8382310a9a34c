// Opens the session database for one gateway life. The kernel opens it after taking the home lock
// and closes it as shutdown step 7, so the database never outlives the lock.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { OpenOptions } from "./OpenOptions.js"
import { type SessionDbError, type SessionDbService } from "./SessionDb.js"
import { emptyJournal, type MemoryJournal, memorySessionDb } from "./MemorySessionDb.js"
import { openSqliteSessionDb, type SqliteStoreOptions } from "./SqliteSessionStore.js"
import type { PgStoreOptions } from "./postgres/PgSessionStore.js"
import type { PostgresSettings } from "./postgres/PostgresSettings.js"
import { openWorkerSessionDb, type WorkerStoreOptions } from "./worker/WorkerSessionDb.js"

export type { OpenOptions } from "./OpenOptions.js"

export class SessionStore extends Context.Tag("hermes/SessionStore")<SessionStore, {
  readonly open: (options: OpenOptions) => Effect.Effect<SessionDbService, SessionDbError>
}>() {
  /** Sessions kept in memory for the life of the process (nothing survives a restart). */
  static readonly memory = (journal: MemoryJournal = emptyJournal()): Layer.Layer<SessionStore> =>
    Layer.succeed(SessionStore, { open: () => Effect.sync(() => memorySessionDb(journal)) })

  /**
   * The durable SessionDB at `file` (`<home>/state.db`), on node:sqlite when Node has it, else on
   * node-sqlite3-wasm; logs `session db engine=... path=...` at each open.
   */
  static readonly sqlite = (file: string, options: SqliteStoreOptions = {}): Layer.Layer<SessionStore> =>
    Layer.succeed(SessionStore, { open: (open) => openSqliteSessionDb(file, options, open) })

  /**
   * The SessionDB in a PostgreSQL database (sessions.engine: postgres); logs `session db
   * engine=postgresql database=...`. The driver is loaded on first open, so a SQLite gateway never
   * spends start-up time evaluating it.
   */
  static readonly postgres = (settings: PostgresSettings, options: PgStoreOptions): Layer.Layer<SessionStore> =>
    Layer.succeed(SessionStore, {
      open: (open) =>
        Effect.promise(() => import("./postgres/PgSessionStore.js")).pipe(
          Effect.flatMap((store) => store.openPostgresSessionDb(settings, options, open))
        )
    })

  /**
   * The same database served by a worker thread that owns the connection (the gateway's choice):
   * no SQL and no fsync on the event loop, and calls that arrive together share one commit.
   */
  static readonly sqliteWorker = (file: string, options: WorkerStoreOptions = {}): Layer.Layer<SessionStore> =>
    Layer.succeed(SessionStore, { open: (open) => openWorkerSessionDb(file, options, open) })
}
