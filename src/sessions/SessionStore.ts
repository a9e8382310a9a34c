// Opens the session database for one gateway life. The kernel opens it after taking the home lock
// and closes it as shutdown step 7, so the database never outlives the lock.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { emptyJournal, type MemoryJournal, memorySessionDb, type SessionDbError, type SessionDbService } from "./SessionDb.js"

export interface OpenOptions {
  /** The previous life died without shutting down: run crash recovery before serving. */
  readonly previousLifeCrashed: boolean
}

export class SessionStore extends Context.Tag("hermes/SessionStore")<SessionStore, {
  readonly open: (options: OpenOptions) => Effect.Effect<SessionDbService, SessionDbError>
}>() {
  /** Sessions kept in memory for the life of the process (nothing survives a restart). */
  static readonly memory = (journal: MemoryJournal = emptyJournal()): Layer.Layer<SessionStore> =>
    Layer.succeed(SessionStore, { open: () => Effect.sync(() => memorySessionDb(journal)) })
}
