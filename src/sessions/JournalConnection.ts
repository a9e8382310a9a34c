// What the durable turn journal (TurnJournal.ts) needs of its database, whichever engine holds it:
// SQLite's one-connection client (SqliteClient.ts) or a PostgreSQL pool (postgres/PgConnection.ts).
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Effect from "effect/Effect"

export interface JournalConnection {
  readonly sql: SqlClient.SqlClient
  /** `file` names the database in errors: the SQLite path, or PostgreSQL's user@host:port/db (never a password). */
  readonly driver: { readonly file: string }
  /** Waits for the statement or transaction in flight, then closes. Idempotent; later statements fail. */
  readonly close: Effect.Effect<void, SqlError>
  readonly isClosed: Effect.Effect<boolean>
  /**
   * Runs one whole journal transaction again when the engine aborted it for a conflict with a
   * concurrent one (PostgreSQL's serializable isolation); absent where one writer excludes that.
   */
  readonly retryConflicts?: <A, E>(transaction: Effect.Effect<A, E>) => Effect.Effect<A, E>
}
