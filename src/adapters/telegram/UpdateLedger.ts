// Which Telegram updates are handled, durably, so none is lost and none is submitted twice.
//
// Telegram keeps an update until a getUpdates call passes an offset above its id. We pass
// `acknowledged + 1`, where `acknowledged` is the highest id such that every update up to it is
// handled (its inbound message durably recorded by the gateway, or it needed no turn). Chats run
// concurrently, so a later update can be handled before an earlier one: those ids are kept in
// `handled_above`, so that after a restart Telegram's redelivery of them is skipped rather than
// submitted again. Both live in one small JSON file written atomically on every change, with the
// chat that asked for a /restart, so the next life can tell it the gateway is back.
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { readJsonSync, writeJsonAtomicSync } from "../../home/AtomicFile.js"

const RestartNotice = Schema.Struct({
  chat_id: Schema.Number.pipe(Schema.int()),
  requested_at: Schema.String
})

const LedgerFile = Schema.Struct({
  acknowledged: Schema.Number.pipe(Schema.int()),
  handled_above: Schema.optionalWith(Schema.Array(Schema.Number.pipe(Schema.int())), { default: () => [] }),
  restart_notice: Schema.optionalWith(Schema.NullOr(RestartNotice), { default: () => null })
})

export type RestartNotice = typeof RestartNotice.Type

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
  /** Remembers (durably) the chat to tell once the gateway is back; throws if it cannot be written. */
  readonly noteRestart: (notice: RestartNotice) => void
  /** The chat that asked for the restart that ended the previous life, taken once (and forgotten durably). */
  readonly takeRestartNotice: () => RestartNotice | null
}

export interface LedgerLoad {
  readonly ledger: UpdateLedger
  /** Why the file was ignored, if it was present but unreadable. */
  readonly warning: string | undefined
}

/** What the ledger remembers, as the file (and the database's telegram_updates row) holds it. */
export interface LedgerDocument {
  readonly acknowledged: number
  readonly handled_above: ReadonlyArray<number>
  readonly restart_notice?: RestartNotice
}

export const loadUpdateLedger = (file: string): Effect.Effect<LedgerLoad> =>
  Effect.sync(() => {
    const reading = readJsonSync(file, LedgerFile)
    const document: LedgerDocument = reading._tag === "Valid"
      ? {
        acknowledged: reading.value.acknowledged,
        handled_above: reading.value.handled_above,
        ...(reading.value.restart_notice !== null ? { restart_notice: reading.value.restart_notice } : {})
      }
      : { acknowledged: 0, handled_above: [] }
    return {
      ledger: ledgerOf(document, (next) => writeJsonAtomicSync(file, next)),
      warning: reading._tag === "Invalid" ? `${reading.reason}; starting from Telegram's own offset` : undefined
    }
  })

/**
 * The ledger in memory, starting from `document`; `persist` gets every changed document (and may
 * throw: the change is then reported to the caller, and written with the next one).
 */
export const ledgerOf = (document: LedgerDocument, persistDocument: (document: LedgerDocument) => void): UpdateLedger => {
  let acknowledged = document.acknowledged
  const handledAbove = new Set<number>(document.handled_above.filter((id) => id > acknowledged))
  let restartNotice = document.restart_notice ?? null
  const pending = new Set<number>()
  let dispatchedUpTo = acknowledged
  const documentNow = (): LedgerDocument => ({
    acknowledged,
    handled_above: [...handledAbove].sort((a, b) => a - b),
    ...(restartNotice !== null ? { restart_notice: restartNotice } : {})
  })
  let persisted = JSON.stringify(documentNow())

  const persist = () => {
    const next = documentNow()
    const text = JSON.stringify(next)
    if (text === persisted) return
    persistDocument(next)
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
    acknowledged: () => acknowledged,
    noteRestart: (notice) => {
      restartNotice = notice
      persist()
    },
    takeRestartNotice: () => {
      const notice = restartNotice
      if (notice === null) return null
      restartNotice = null
      try {
        persist()
      } catch {
        // Not forgotten on disk: the next life may say "restarted" once more, which is harmless.
      }
      return notice
    }
  }
  return ledger
}
