// The worker folds the WAL into the main file once the database has been idle for a while (a
// passive checkpoint: it waits for nobody), so a stop's close, or the next start after a crash, has
// little left to copy: an idle stop's close went from ~4.5 to ~1.8 ms here. Under steady traffic it
// never fires; SQLite's own checkpoint every 1,000 pages does that work.
//
// A plain timer, re-armed after every batch with refresh(), tells the serving loop through its
// inbox. A timeout raced against each wait for the next message (Effect.timeoutOption) cost the
// worker ~90 µs per durable turn under load (bench/cpu-per-turn.ts); refresh() costs next to nothing.
import * as Duration from "effect/Duration"
import type { SqliteDriver } from "../SqliteDriver.js"

/** What the timer puts in the worker's inbox; never sent by the gateway. */
export const idleTick = { _tag: "IdleTick" } as const
export type IdleTick = typeof idleTick

export const idleCheckpointAfter = Duration.millis(100)

export interface IdleCheckpoint {
  /** A batch was served: the database may have changed; the idle wait starts again. */
  readonly touched: () => void
  /** The tick arrived: fold the WAL in now. */
  readonly run: () => void
  readonly stop: () => void
}

export const makeIdleCheckpoint = (
  driver: Pick<SqliteDriver, "query">,
  tick: () => void,
  warn: (message: string) => void,
  after: Duration.Duration = idleCheckpointAfter
): IdleCheckpoint => {
  // The open wrote (migrations, crash recovery, the schema check): the first idle spell folds it in.
  let changed = true
  const timer = setTimeout(() => {
    if (changed) tick()
  }, Duration.toMillis(after))
  // Never what keeps the thread alive once the gateway lets it go.
  timer.unref()
  return {
    touched: () => {
      changed = true
      timer.refresh()
    },
    run: () => {
      changed = false
      try {
        driver.query("PRAGMA wal_checkpoint(PASSIVE)", [])
      } catch (error) {
        // Harmless: the WAL keeps the data, and the close or SQLite's own checkpoint folds it in later.
        warn(`session db worker: idle checkpoint failed: ${error instanceof Error ? error.message : String(error)}`)
      }
    },
    stop: () => clearTimeout(timer)
  }
}
