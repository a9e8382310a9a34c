// The update ledger as the adapter uses it: loaded once (at connect), every change written through
// at once, and the acknowledged update id mirrored into the adapter's status. A ledger that cannot
// be written is logged, never fatal: the worst case is a redelivery that the externalId dedupe catches.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { StatusCell } from "./TelegramStatus.js"
import { loadUpdateLedger, type RestartNotice, type UpdateLedger } from "./UpdateLedger.js"

export interface HandledUpdates {
  /** The ledger itself; loaded on first use. */
  readonly ledger: Effect.Effect<UpdateLedger>
  /** The update needs nothing more: Telegram may forget it, and no later life takes it again. */
  readonly markHandled: (updateId: number) => Effect.Effect<void>
  /** Delivered again although an earlier life handled it: counted as seen. */
  readonly markSkipped: (updateId: number) => Effect.Effect<void>
  readonly noteRestart: (notice: RestartNotice) => Effect.Effect<void>
}

export const makeHandledUpdates = (file: string, cell: StatusCell): Effect.Effect<HandledUpdates> =>
  Effect.gen(function*() {
    const loaded = yield* Effect.cached(Effect.gen(function*() {
      const { ledger, warning } = yield* loadUpdateLedger(file)
      if (warning !== undefined) yield* Effect.logWarning(`telegram update ledger ignored: ${warning}`)
      yield* cell.patch({ acknowledged: ledger.acknowledged() })
      return ledger
    }))

    const record = (what: string, change: (ledger: UpdateLedger) => void): Effect.Effect<void> =>
      Effect.gen(function*() {
        const ledger = yield* loaded
        yield* Effect.try(() => change(ledger)).pipe(
          Effect.catchAll((error) => Effect.logError(`telegram: cannot record ${what} in ${file}`, Cause.die(error)))
        )
        yield* cell.patch({ acknowledged: ledger.acknowledged() })
      })

    return {
      ledger: loaded,
      markHandled: (id) => record(`update ${id}`, (ledger) => ledger.handled(id)),
      markSkipped: (id) => record(`update ${id} as seen`, (ledger) => ledger.skipped(id)),
      noteRestart: (notice) => record("the /restart notice", (ledger) => ledger.noteRestart(notice))
    }
  })
