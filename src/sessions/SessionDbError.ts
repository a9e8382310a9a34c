// The one error every session journal operation fails with; `reason` says what kind of failure it
// is where a caller acts on it (SessionDbFailure.ts turns engine failures into one).
import * as Data from "effect/Data"

export type SessionDbErrorReason =
  | "closed"
  | "missing"
  | "unknown_session"
  | "unknown_turn"
  | "turn_not_running"
  | "turn_not_resumable"
  /** markDelivered on a turn that has no final answer yet (running or resume_pending). */
  | "turn_not_ended"
  | "suspended"
  | "corrupt"
  /** A file of the database is a symbolic link, not a regular file, or someone else's: the home is misconfigured. */
  | "unsafe"
  | "storage"
  /** A database server that cannot be reached now (PostgreSQL): temporary, exit 69 at start-up. */
  | "unreachable"
  /** A database server that refuses us (credentials, missing database, no right to the schema): exit 78. */
  | "refused"
  /** A schema version newer than this binary knows: exit 78 naming both. */
  | "schema_newer"

export class SessionDbError extends Data.TaggedError("SessionDbError")<{
  readonly message: string
  /** Set where a caller may act on the kind of failure (e.g. the CLI on "missing"). */
  readonly reason?: SessionDbErrorReason
}> {}
