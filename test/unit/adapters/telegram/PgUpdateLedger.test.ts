// The update ledger replicas share (PgUpdateLedger.ts): merging two records of it is commutative,
// associative and idempotent and never takes anything back; against a real PostgreSQL, a new term
// starts from what the last leader recorded, a write from a replica that is no longer leader cannot
// undo the leader's, and the offset asked of Telegram never passes what the database holds.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import * as Ref from "effect/Ref"
import { type LockSession, openLockSession } from "../../../../src/adapters/telegram/LockSession.js"
import { makeSharedHandledUpdates, mergeLedgers, readLedger } from "../../../../src/adapters/telegram/PgUpdateLedger.js"
import { makeStatusCell } from "../../../../src/adapters/telegram/TelegramStatus.js"
import type { LedgerDocument } from "../../../../src/adapters/telegram/UpdateLedger.js"
import { migratePg } from "../../../../src/sessions/postgres/PgMigrations.js"
import { makePgConnection } from "../../../../src/sessions/postgres/PgConnection.js"
import * as SqlClient from "@effect/sql/SqlClient"
import { postgresUrl, scratchDatabase, settingsFor, urlFor } from "../../sessions/postgres.js"

const ledgerArb: fc.Arbitrary<LedgerDocument> = fc.record({
  acknowledged: fc.nat({ max: 50 }),
  handled_above: fc.uniqueArray(fc.integer({ min: 1, max: 80 }), { maxLength: 10 })
}).map(({ acknowledged, handled_above }) => mergeLedgers({ acknowledged, handled_above }, { acknowledged: 0, handled_above: [] }))

/** Every update id the record says is handled, up to 100. */
const handledIds = (ledger: LedgerDocument) =>
  Array.from({ length: 100 }, (_, i) => i + 1).filter((id) => id <= ledger.acknowledged || ledger.handled_above.includes(id))

describe("mergeLedgers", () => {
  it.prop("commutative, associative, idempotent", [ledgerArb, ledgerArb, ledgerArb], ([a, b, c]) => {
    expect(mergeLedgers(a, b)).toEqual(mergeLedgers(b, a))
    expect(mergeLedgers(mergeLedgers(a, b), c)).toEqual(mergeLedgers(a, mergeLedgers(b, c)))
    expect(mergeLedgers(a, a)).toEqual(a)
  })

  it.prop("takes nothing back: whatever either side handled stays handled", [ledgerArb, ledgerArb], ([a, b]) => {
    const merged = handledIds(mergeLedgers(a, b))
    for (const id of [...handledIds(a), ...handledIds(b)]) expect(merged).toContain(id)
    expect(mergeLedgers(a, b).handled_above.every((id) => id > mergeLedgers(a, b).acknowledged)).toBe(true)
  })
})

/** The schema (version 5 included) in a fresh database; a lock session on it, closed with the scope. */
const preparedDatabase = Effect.gen(function*() {
  const database = yield* scratchDatabase
  const connection = yield* makePgConnection(settingsFor(urlFor(database)))
  yield* migratePg.pipe(Effect.provideService(SqlClient.SqlClient, connection.sql))
  yield* connection.close
  return database
})

const sessionOn = (database: string) =>
  Effect.acquireRelease(
    openLockSession({
      settings: settingsFor(urlFor(database)),
      applicationName: "hermes-telegram ledger test",
      timeout: Duration.seconds(5),
      serverKeepalive: { idle: 10, interval: 3, count: 3 }
    }),
    (session) => session.close
  )

const sharedOn = (session: Ref.Ref<LockSession | null>, botKey = "bot-under-test") =>
  Effect.flatMap(makeStatusCell, (cell) => makeSharedHandledUpdates({ botKey, cell, session: Ref.get(session) }))

describe.skipIf(postgresUrl === undefined)("the shared update ledger on a real PostgreSQL", () => {
  it.scopedLive("a new term goes on where the last leader stopped; a late write cannot undo the leader's", () =>
    Effect.gen(function*() {
      const database = yield* preparedDatabase
      const first = yield* Ref.make<LockSession | null>(yield* sessionOn(database))
      const old = yield* sharedOn(first)
      yield* old.beginTerm
      const oldLedger = yield* old.ledger
      expect(oldLedger.offset()).toBe(1)
      for (const id of [10, 11, 12, 13]) oldLedger.dispatched(id)
      yield* old.markHandled(10)
      yield* old.markHandled(12)
      expect(oldLedger.offset()).toBe(11)

      const second = yield* Ref.make<LockSession | null>(yield* sessionOn(database))
      const next = yield* sharedOn(second)
      yield* next.beginTerm
      const nextLedger = yield* next.ledger
      expect(nextLedger.offset()).toBe(11)
      expect([11, 12, 13].map(nextLedger.isNew)).toEqual([true, false, true])
      for (const id of [11, 13]) nextLedger.dispatched(id)
      yield* next.markHandled(11)
      yield* next.markHandled(13)
      expect(nextLedger.offset()).toBe(14)

      // The old leader, still finishing a turn it accepted, records it: a merge, nothing goes back.
      yield* old.markHandled(11)
      const stored = yield* readLedger((yield* Ref.get(second))!, "bot-under-test")
      expect(stored.document).toEqual({ acknowledged: 13, handled_above: [] })
    }), 60_000)

  it.scopedLive("with the database away nothing more is acknowledged; once it is back the offset moves on", () =>
    Effect.gen(function*() {
      const database = yield* preparedDatabase
      const session = yield* Ref.make<LockSession | null>(yield* sessionOn(database))
      const shared = yield* sharedOn(session)
      yield* shared.beginTerm
      const ledger = yield* shared.ledger
      for (const id of [20, 21]) ledger.dispatched(id)
      yield* shared.markHandled(20)
      expect(ledger.offset()).toBe(21)

      yield* Ref.set(session, null)
      yield* shared.markHandled(21)
      // Handled here, but not recorded: Telegram keeps update 21 for whoever polls next.
      expect(ledger.offset()).toBe(21)

      yield* Ref.set(session, yield* sessionOn(database))
      yield* shared.flush
      expect(ledger.offset()).toBe(22)
    }), 60_000)
})
