// Which Telegram updates are handled, durably, so none is lost and none is submitted twice.
//
// Telegram keeps an update until a getUpdates call passes an offset above its id. We pass
// `acknowledged + 1`, where `acknowledged` is the highest id such that every update up to it is
// handled (its inbound message durably recorded by the gateway, or it needed no turn). Chats run
// concurrently, so a later update can be handled before an earlier one: those ids are kept in
// `handled_above`, so that after a restart Telegram's redelivery of them is skipped rather than
// submitted again. Both live in one small JSON file written atomically on every change.
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { readJsonSync, writeJsonAtomicSync } from "../../home/AtomicFile.js"

const LedgerFile = Schema.Struct({
  acknowledged: Schema.Number.pipe(Schema.int()),
  handled_above: Schema.optionalWith(Schema.Array(Schema.Number.pipe(Schema.int())), { default: () => [] })
})

export interface UpdateLedger {
  /** The offset for the next getUpdates call. */
  readonly offset: () => number
  /** Whether an update must be dispatched: not handled in an earlier life, not dispatched in this one. */
  readonly isNew: (updateId: number) => boolean
  /** Marks an update as taken (it will be marked handled later). */
  readonly dispatched: (updateId: number) => void
  /** Marks an update handled and persists the change; throws if the file cannot be written. */
  readonly handled: (updateId: number) => void
  /** An update handled in an earlier life that Telegram delivered again: skipped, and counted as seen. */
  readonly skipped: (updateId: number) => void
  /** Updates taken but not yet handled (for tests and status). */
  readonly pending: () => ReadonlyArray<number>
  readonly acknowledged: () => number
}

export interface LedgerLoad {
  readonly ledger: UpdateLedger
  /** Why the file was ignored, if it was present but unreadable. */
  readonly warning: string | undefined
}

export const loadUpdateLedger = (file: string): Effect.Effect<LedgerLoad> =>
  Effect.sync(() => {
    const reading = readJsonSync(file, LedgerFile)
    let acknowledged = reading._tag === "Valid" ? reading.value.acknowledged : 0
    const handledAbove = new Set<number>(
      reading._tag === "Valid" ? reading.value.handled_above.filter((id) => id > acknowledged) : []
    )
    const pending = new Set<number>()
    let dispatchedUpTo = acknowledged
    let persisted = JSON.stringify({ acknowledged, handled_above: [...handledAbove].sort((a, b) => a - b) })

    const persist = () => {
      const document = { acknowledged, handled_above: [...handledAbove].sort((a, b) => a - b) }
      const text = JSON.stringify(document)
      if (text === persisted) return
      writeJsonAtomicSync(file, document)
      persisted = text
    }

    /** Moves `acknowledged` up to just below the oldest update still pending. */
    const settle = () => {
      const oldestPending = pending.size === 0 ? undefined : Math.min(...pending)
      // Every dispatched id below the oldest pending one is handled; with none pending, all are.
      const next = oldestPending === undefined ? dispatchedUpTo : oldestPending - 1
      if (next > acknowledged) acknowledged = next
      for (const id of handledAbove) if (id <= acknowledged) handledAbove.delete(id)
    }

    const ledger: UpdateLedger = {
      offset: () => acknowledged + 1,
      isNew: (id) => id > dispatchedUpTo && !handledAbove.has(id),
      dispatched: (id) => {
        pending.add(id)
        if (id > dispatchedUpTo) dispatchedUpTo = id
      },
      handled: (id) => {
        pending.delete(id)
        if (id > acknowledged) handledAbove.add(id)
        settle()
        persist()
      },
      skipped: (id) => {
        if (id > dispatchedUpTo) dispatchedUpTo = id
        settle()
        persist()
      },
      pending: () => [...pending].sort((a, b) => a - b),
      acknowledged: () => acknowledged
    }
    return {
      ledger,
      warning: reading._tag === "Invalid" ? `${reading.reason}; starting from Telegram's own offset` : undefined
    }
  })
