// `<home>/starts.json`: when the recent lives of this home started, for the respawn-storm breaker.
// Bounded (only starts that still count, at most a fixed number), written atomically, and read
// tolerating anything: a missing or garbled file means "no recent starts", with the reason logged.
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as path from "node:path"
import { nextHistory } from "../lifecycle/RespawnStorm.js"
import { readJsonSync, writeJsonAtomic } from "./AtomicFile.js"

export const startHistoryFile = (home: string): string => path.join(home, "starts.json")

/** Loose on purpose: one bad entry is dropped, not the whole history. */
const StartsDocument = Schema.Struct({ starts: Schema.Array(Schema.Unknown) })

export interface StartHistoryService {
  /**
   * Records a start at `now` (epoch ms) and returns the earlier starts that may still count. Never
   * fails: a history that cannot be read or written only weakens the breaker, and is logged.
   */
  readonly record: (now: number, window: Duration.Duration) => Effect.Effect<ReadonlyArray<number>>
}

const parseEntries = (entries: ReadonlyArray<unknown>): { starts: Array<number>; dropped: number } => {
  const starts: Array<number> = []
  for (const entry of entries) {
    const ms = typeof entry === "string" ? Date.parse(entry) : Number.NaN
    if (Number.isFinite(ms)) starts.push(ms)
  }
  return { starts, dropped: entries.length - starts.length }
}

export class StartHistory extends Context.Tag("hermes/StartHistory")<StartHistory, StartHistoryService>() {
  static readonly live = (file: string): Layer.Layer<StartHistory> =>
    Layer.succeed(StartHistory, {
      record: (now, window) =>
        Effect.gen(function*() {
          const reading = readJsonSync(file, StartsDocument)
          let previous: ReadonlyArray<number> = []
          if (reading._tag === "Invalid") {
            yield* Effect.logWarning(`${reading.reason}; start history treated as empty`)
          } else if (reading._tag === "Valid") {
            const parsed = parseEntries(reading.value.starts)
            if (parsed.dropped > 0) yield* Effect.logWarning(`${file}: ignored ${parsed.dropped} entries that are not times`)
            previous = parsed.starts
          }
          const kept = nextHistory(previous, now, window)
          yield* writeJsonAtomic(file, { starts: kept.map((ms) => new Date(ms).toISOString()) }).pipe(
            Effect.catchAll((error) => Effect.logWarning(`${error.message}; this start is not counted by the respawn-storm breaker`))
          )
          return previous
        })
    })

  /** An in-memory history (start times in ms), for tests. */
  static readonly memory = (starts: Ref.Ref<ReadonlyArray<number>>): Layer.Layer<StartHistory> =>
    Layer.succeed(StartHistory, {
      record: (now, window) => Ref.getAndUpdate(starts, (previous) => nextHistory(previous, now, window))
    })
}
