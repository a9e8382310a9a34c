// Which push answers reached their chat, written the instant the platform takes one. The SessionDB
// records the same fact (delivered_at), but a durable SQLite commit waits its turn behind the other
// writes and an fsync; a SIGKILL in that gap would make the next life send the answer again. One
// append(2) to this file is done before anything else runs, and survives the death of the process
// (not a power cut: the file is not fsynced, and then an answer may go out twice, never zero times).
// The next open folds the file into the database and empties it.
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import type { TurnIds } from "../adapters/TurnIntake.js"
import type { SessionDbError } from "./SessionDbError.js"
import { appendNoFollowSync, readNoFollowSync, truncateNoFollowSync } from "../home/SafeOpen.js"

/** Beside the database: `<db>-delivered`, like SQLite's own `-wal`. */
export const deliveryLogFile = (databaseFile: string): string => `${databaseFile}-delivered`

/** A line is one turn id; anything else (a torn last line, garbage) is skipped. */
const turnIdPattern = /^[A-Za-z0-9_-]{1,64}$/

/** Past this size the log is emptied as soon as every entry in it is also in the database. */
const defaultCompactAboveBytes = 1 << 20

export interface DeliveryLog {
  readonly file: string
  /** Appends `turnId`; throws if the file cannot be written. */
  readonly append: (turnId: string) => void
  /**
   * After the database write for an appended id: `recorded` says whether it committed. Once every
   * entry is in the database and the log is large, it is emptied.
   */
  readonly settled: (recorded: boolean) => void
}

export const readDeliveryLog = (file: string): ReadonlyArray<string> => {
  let text: string
  try {
    text = readNoFollowSync(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return []
    throw error
  }
  return text.split("\n").filter((line) => turnIdPattern.test(line))
}

/** Empties the log (after its ids are committed to the database); a link at its name is refused, never truncated through. */
export const clearDeliveryLog = (file: string): void => truncateNoFollowSync(file)

export const makeDeliveryLog = (file: string, compactAboveBytes = defaultCompactAboveBytes): DeliveryLog => {
  let inFlight = 0
  let unrecorded = false
  let size = (() => {
    try {
      return fs.lstatSync(file).size
    } catch {
      return 0
    }
  })()
  return {
    file,
    append: (turnId) => {
      const line = `${turnId}\n`
      appendNoFollowSync(file, line)
      size += line.length
      inFlight++
    },
    settled: (recorded) => {
      inFlight = Math.max(0, inFlight - 1)
      if (!recorded) unrecorded = true
      if (inFlight > 0 || unrecorded || size < compactAboveBytes) return
      try {
        clearDeliveryLog(file)
        size = 0
      } catch {
        // Kept: it only grows until the next open folds it.
      }
    }
  }
}

/** Failures after which the delivery log still holds something the database lacks. */
const unrecorded = (reason: SessionDbError["reason"]) => reason !== "turn_not_ended" && reason !== "unknown_turn"

/**
 * markDelivered with the log in front: the id is appended synchronously, before this waits for the
 * database (the next life must not send the answer again), and settled once the database answered.
 * Without a log (the CLI), only the database is written.
 */
export const deliveredThroughLog = (
  log: DeliveryLog | undefined,
  ids: TurnIds,
  record: (ids: TurnIds) => Effect.Effect<void, SessionDbError>
): Effect.Effect<void, SessionDbError> =>
  Effect.suspend(() => {
    if (log === undefined) return record(ids)
    const appended = Effect.try(() => log.append(ids.turnId)).pipe(
      Effect.as(true),
      Effect.catchAll((error) =>
        Effect.logWarning(`cannot append to the delivery log ${log.file}: ${String(error.error)}`).pipe(Effect.as(false))
      )
    )
    return Effect.flatMap(appended, (inLog) =>
      inLog
        ? record(ids).pipe(
          Effect.tapBoth({
            onSuccess: () => Effect.sync(() => log.settled(true)),
            onFailure: (error) => Effect.sync(() => log.settled(!unrecorded(error.reason)))
          })
        )
        : record(ids))
  })
