// What the durable turn journal (TurnJournal.ts) needs of its database, whichever engine holds it:
// SQLite's one-connection client (SqliteClient.ts) or a PostgreSQL pool (postgres/PgConnection.ts).
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Effect from "effect/Effect"
import type { SessionDbError } from "./SessionDbError.js"

export interface JournalConnection {
  readonly sql: SqlClient.SqlClient
  /** `file` names the database in errors: the SQLite path, or PostgreSQL's user@host:port/db (never a password). */
  readonly driver: { readonly file: string }
  /** Waits for the statement or transaction in flight, then closes. Idempotent; later statements fail. */
  readonly close: Effect.Effect<void, SqlError>
  readonly isClosed: Effect.Effect<boolean>
  /**
   * Wraps every journal operation (one whole transaction) where the engine needs it: PostgreSQL
   * runs one again when it was aborted for a conflict with a concurrent one (serializable
   * isolation), and refuses at once while the server is known lost. Absent for SQLite's one writer.
   */
  readonly aroundOperation?: <A, E>(transaction: Effect.Effect<A, E>) => Effect.Effect<A, E | SessionDbError>
}
