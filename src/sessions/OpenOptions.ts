// What the kernel asks of one open of the session database (SessionStore.open).
import type * as Effect from "effect/Effect"
import type { RecoveryReport } from "./CrashRecovery.js"

export interface OpenOptions {
  /** The previous life died without shutting down: run crash recovery before serving. */
  readonly previousLifeCrashed: boolean
  /**
   * Told what the open had to repair, before `open` returns: called when the previous life crashed,
   * or when the open moved a corrupt file aside, recovered turns left running, or removed a stale
   * lock. The kernel appends it to logs/lifecycle.jsonl. Not called by the in-memory store.
   */
  readonly onRecovery?: (report: RecoveryReport) => Effect.Effect<void>
}
