// The update ledger of replicas sharing one PostgreSQL SessionDB (sessions.engine: postgres): the
// same ledger as UpdateLedger.ts (acknowledged id, handled ids above it, the /restart notice), kept
// in the telegram_updates row of the bot (schema version 5) instead of the home's JSON file, so the
// replica that takes over polling goes on where the last one stopped.
//
// Every write is a merge (mergeLedgers): the acknowledged id only grows and handled ids are a union,
// so a write from a replica that is no longer leader (a turn it accepted before it resigned) never
// takes back what the leader recorded. The offset asked of Telegram is the acknowledged id that the
// database holds, not the one in memory: with the database away nothing more is acknowledged, and
// Telegram keeps the updates for whoever polls once it is back. Writes go through the leader
// election's own connection (LockSession), one at a time, each carrying the newest state.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { HandledUpdates } from "./HandledUpdates.js"
import { type LockSession, LockSessionError } from "./LockSession.js"
import type { StatusCell } from "./TelegramStatus.js"
import { type LedgerDocument, ledgerOf, type RestartNotice, type UpdateLedger } from "./UpdateLedger.js"

/** Pure: two records of the same ledger as one; commutative, associative and idempotent. */
export const mergeLedgers = (a: LedgerDocument, b: LedgerDocument): LedgerDocument => {
  const acknowledged = Math.max(a.acknowledged, b.acknowledged)
  const handled = new Set([...a.handled_above, ...b.handled_above].filter((id) => id > acknowledged))
  return { acknowledged, handled_above: [...handled].sort((x, y) => x - y) }
}

const HandledIds = Schema.parseJson(Schema.Array(Schema.Number.pipe(Schema.int())))
const StoredNotice = Schema.parseJson(Schema.Struct({ chat_id: Schema.Number.pipe(Schema.int()), requested_at: Schema.String }))

interface StoredLedger {
  readonly document: LedgerDocument
  readonly notice: RestartNotice | null
}

const decodeRow = (row: Record<string, unknown> | undefined): StoredLedger => {
  if (row === undefined) return { document: { acknowledged: 0, handled_above: [] }, notice: null }
  const handled = Schema.decodeUnknownOption(HandledIds)(row.handled_above)
  const notice = row.restart_notice === null ? null : Schema.decodeUnknownOption(StoredNotice)(row.restart_notice)
  return {
    document: { acknowledged: Number(row.acknowledged) || 0, handled_above: handled._tag === "Some" ? handled.value : [] },
    notice: notice === null || notice._tag === "None" ? null : notice.value
  }
}

const selectRow = "SELECT acknowledged, handled_above, restart_notice FROM telegram_updates WHERE bot_key = $1"

/** The bot's row as it is now (an absent row is an empty ledger). */
export const readLedger = (session: LockSession, botKey: string): Effect.Effect<StoredLedger, LockSessionError> =>
  Effect.map(session.query(selectRow, [botKey]), (rows) => decodeRow(rows[0]))

/**
 * Merges `document` into the bot's row in one transaction (the row locked while it is read and
 * written); the notice is replaced only when `notice` is given. Returns what the row holds now.
 */
export const writeLedger = (
  session: LockSession,
  botKey: string,
  document: LedgerDocument,
  notice: { readonly value: RestartNotice | null } | undefined,
  now: string
): Effect.Effect<LedgerDocument, LockSessionError> =>
  Effect.gen(function*() {
    yield* session.query("BEGIN ISOLATION LEVEL READ COMMITTED")
    yield* session.query(
      "INSERT INTO telegram_updates (bot_key, acknowledged, handled_above, restart_notice, updated_at) VALUES ($1, 0, '[]', NULL, $2) " +
        "ON CONFLICT (bot_key) DO NOTHING",
      [botKey, now]
    )
    const stored = decodeRow((yield* session.query(`${selectRow} FOR UPDATE`, [botKey]))[0])
    const merged = mergeLedgers(stored.document, document)
    const restartNotice = notice === undefined ? stored.notice : notice.value
    yield* session.query(
      "UPDATE telegram_updates SET acknowledged = $2, handled_above = $3, restart_notice = $4, updated_at = $5 WHERE bot_key = $1",
      [botKey, merged.acknowledged, JSON.stringify(merged.handled_above), restartNotice === null ? null : JSON.stringify(restartNotice), now]
    )
    yield* session.query("COMMIT")
    return merged
  }).pipe(Effect.tapError(() => Effect.ignore(session.query("ROLLBACK"))))

export interface SharedHandledUpdates extends HandledUpdates {
  /** A new leadership term: the ledger as the database holds it (with anything not written yet). */
  readonly beginTerm: Effect.Effect<void, LockSessionError>
  /** Writes what is not written yet (e.g. a /restart notice taken); logs a failure. */
  readonly flush: Effect.Effect<void>
}

export const makeSharedHandledUpdates = (options: {
  readonly botKey: string
  readonly cell: StatusCell
  /** The lock connection now, if there is one. */
  readonly session: Effect.Effect<LockSession | null>
}): Effect.Effect<SharedHandledUpdates> =>
  Effect.gen(function*() {
    const { botKey, cell } = options
    /** The newest document not yet in the database. */
    let unwritten: LedgerDocument | null = null
    /** The /restart notice as the database holds it (JSON), to write it only when it changed. */
    let writtenNotice = "null"
    let persistedAcknowledged = 0
    const noticeOf = (document: LedgerDocument) => JSON.stringify(document.restart_notice ?? null)
    const capture = (document: LedgerDocument) => {
      unwritten = document
    }
    const current = { ledger: ledgerOf({ acknowledged: 0, handled_above: [] }, capture) }
    // The poller and the commands hold this object for the whole term; each call goes to the ledger
    // of the current term. The offset is what the database holds (see the header).
    const view: UpdateLedger = {
      offset: () => persistedAcknowledged + 1,
      isNew: (id) => current.ledger.isNew(id),
      dispatched: (id) => current.ledger.dispatched(id),
      handled: (id) => current.ledger.handled(id),
      skipped: (id) => current.ledger.skipped(id),
      pending: () => current.ledger.pending(),
      acknowledged: () => persistedAcknowledged,
      noteRestart: (notice) => current.ledger.noteRestart(notice),
      takeRestartNotice: () => current.ledger.takeRestartNotice()
    }

    const writer = yield* Effect.makeSemaphore(1)
    const write: Effect.Effect<void, LockSessionError> = writer.withPermits(1)(Effect.gen(function*() {
      const document = unwritten
      if (document === null) return
      const session = yield* options.session
      if (session === null) return yield* Effect.fail(new LockSessionError("no connection to the session database"))
      const notice = noticeOf(document)
      const now = new Date(yield* Clock.currentTimeMillis).toISOString()
      const merged = yield* writeLedger(session, botKey, document, notice !== writtenNotice ? { value: document.restart_notice ?? null } : undefined, now)
      if (unwritten === document) unwritten = null
      writtenNotice = notice
      if (merged.acknowledged > persistedAcknowledged) persistedAcknowledged = merged.acknowledged
      yield* cell.patch({ acknowledged: persistedAcknowledged })
    }))

    const flush = write.pipe(Effect.catchAll((error) =>
      Effect.logError(`telegram: cannot record handled updates in the session database (${error.message}); nothing more is acknowledged to Telegram until it can`)
    ))

    const record = (what: string, change: (ledger: UpdateLedger) => void): Effect.Effect<void> =>
      Effect.gen(function*() {
        yield* Effect.try(() => change(current.ledger)).pipe(
          Effect.catchAll((error) => Effect.logError(`telegram: cannot record ${what}: ${String(error)}`))
        )
        yield* flush
      })

    const beginTerm = Effect.gen(function*() {
      const session = yield* options.session
      if (session === null) return yield* Effect.fail(new LockSessionError("no connection to the session database"))
      // What an earlier term here handled but could not write goes in first.
      yield* Effect.ignore(write)
      const stored = yield* readLedger(session, botKey)
      const pendingWrite = unwritten
      const document: LedgerDocument = {
        ...(pendingWrite === null ? stored.document : mergeLedgers(stored.document, pendingWrite)),
        ...(stored.notice !== null ? { restart_notice: stored.notice } : {})
      }
      writtenNotice = noticeOf(document)
      current.ledger = ledgerOf(document, capture)
      persistedAcknowledged = stored.document.acknowledged
      yield* cell.patch({ acknowledged: persistedAcknowledged })
    })

    return {
      ledger: Effect.succeed(view),
      markHandled: (id) => record(`update ${id}`, (ledger) => ledger.handled(id)),
      markSkipped: (id) => record(`update ${id} as seen`, (ledger) => ledger.skipped(id)),
      noteRestart: (notice) => record("the /restart notice", (ledger) => ledger.noteRestart(notice)),
      beginTerm,
      flush
    }
  })
