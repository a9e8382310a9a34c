// The SessionDB worker's synchronous turn writes (worker/TurnWrites.ts, run by TurnWriteGroup.ts)
// against the journal they stand in for (TurnJournal.ts): any sequence of begins, completes,
// failures and interruptions, grouped as the worker groups them, answers alike and leaves the same
// rows. And the group transaction itself (GroupTransaction.ts): a call that throws undoes only its
// own statements, and a transaction that cannot commit reports every call failed.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type { TurnIds } from "../../../src/adapters/TurnIntake.js"
import type { SessionDbError, SessionDbService } from "../../../src/sessions/SessionDb.js"
import type { SqliteDriver } from "../../../src/sessions/SqliteDriver.js"
import { openSqliteJournal } from "../../../src/sessions/SqliteSessionStore.js"
import { runTransaction } from "../../../src/sessions/worker/GroupTransaction.js"
import { runTurnWrites, type TurnWriteCall } from "../../../src/sessions/worker/TurnWriteGroup.js"
import { makeTurnWrites } from "../../../src/sessions/worker/TurnWrites.js"
import { dbFile, engineCases, tempHome } from "./harness.js"

type Op =
  | { readonly _tag: "begin"; readonly platform: string; readonly key: string | undefined; readonly history: number; readonly externalId: string | undefined }
  | { readonly _tag: "complete" | "fail" | "interrupt"; readonly turn: number; readonly otherSession: boolean }

const opArbitrary: FastCheck.Arbitrary<Op> = FastCheck.oneof(
  {
    weight: 3,
    arbitrary: FastCheck.record({
      _tag: FastCheck.constant("begin" as const),
      platform: FastCheck.constantFrom("http", "telegram"),
      key: FastCheck.constantFrom(undefined, "alice", "bob", "session-0"),
      history: FastCheck.integer({ min: 0, max: 3 }),
      externalId: FastCheck.constantFrom(undefined, "u1", "u2")
    })
  },
  {
    weight: 2,
    arbitrary: FastCheck.record({
      _tag: FastCheck.constantFrom("complete" as const, "fail" as const, "interrupt" as const),
      turn: FastCheck.nat({ max: 20 }),
      otherSession: FastCheck.boolean()
    })
  }
)

/** Ops in steps of one or more, as the worker's group commit runs them. */
const stepsArbitrary = FastCheck.array(FastCheck.array(opArbitrary, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 })

/** One side of the comparison: ids it handed out, in the order it handed them out, become s0, t0, ... */
class Names {
  private readonly names = new Map<string, string>()
  name(id: string, prefix: string): string {
    const known = this.names.get(id)
    if (known !== undefined) return known
    const name = `${prefix}${this.names.size}`
    this.names.set(id, name)
    return name
  }
  /** The name of an id handed out, or the value itself (a chat key the test chose). */
  of(id: string | null): string | null {
    return id === null ? null : (this.names.get(id) ?? id)
  }
}

interface Side {
  readonly run: (calls: ReadonlyArray<TurnWriteCall>) => Effect.Effect<ReadonlyArray<Exit.Exit<unknown, SessionDbError>>>
  readonly driver: SqliteDriver
}

const journalSide = (db: SessionDbService, sql: Parameters<typeof groupThroughJournal>[0], driver: SqliteDriver): Side => ({
  driver,
  run: (calls) => groupThroughJournal(sql, db, calls)
})

/** As the worker's runGroup: one transaction, each call an Effect of the journal (a savepoint). */
const groupThroughJournal = (
  sql: { readonly withTransaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, unknown, R> },
  db: SessionDbService,
  calls: ReadonlyArray<TurnWriteCall>
) => {
  const one = (call: TurnWriteCall): Effect.Effect<unknown, SessionDbError> => {
    switch (call._tag) {
      case "beginTurn":
        return db.beginTurn(call.inbound)
      case "completeTurn":
        return db.completeTurn(call.ids, call.reply)
      case "failTurn":
        return db.failTurn(call.ids, call.message)
      case "interruptTurn":
        return db.interruptTurn(call.ids, call.reason)
    }
  }
  const each = Effect.forEach(calls, (call) => Effect.exit(one(call)))
  return (calls.length === 1 ? each : sql.withTransaction(each)).pipe(Effect.orDie)
}

const writesSide = (driver: SqliteDriver, maxContextMessages: number): Side => {
  const writes = makeTurnWrites(driver, { requestResponsePlatforms: ["http"], maxContextMessages })
  return {
    driver,
    run: (calls) => Effect.sync(() => runTurnWrites(driver, writes, calls.map((call, id) => ({ _tag: "Call", id, call }))).map(([, exit]) => exit))
  }
}

/** Runs the steps on one side; what each call answered and every row, with ids named by first appearance. */
const replay = (side: Side, steps: ReadonlyArray<ReadonlyArray<Op>>) =>
  Effect.gen(function*() {
    const names = new Names()
    const turns: Array<TurnIds> = []
    const answers: Array<unknown> = []
    let n = 0
    for (const step of steps) {
      const calls = step.map((op): TurnWriteCall => {
        n++
        if (op._tag === "begin") {
          return {
            _tag: "beginTurn",
            inbound: {
              platform: op.platform,
              sessionKey: op.key,
              text: `message ${n}`,
              history: Array.from({ length: op.history }, (_, i) => ({ role: i === 0 ? "system" as const : "user" as const, content: `h${i}` })),
              externalId: op.externalId
            }
          }
        }
        const turn = turns[op.turn % Math.max(1, turns.length)] ?? { turnId: "no-such-turn", sessionId: "no-such-session" }
        const other = turns.find((t) => t.sessionId !== turn.sessionId)
        const ids = op.otherSession && other !== undefined ? { turnId: turn.turnId, sessionId: other.sessionId } : turn
        return op._tag === "complete"
          ? { _tag: "completeTurn", ids, reply: `reply ${n}` }
          : op._tag === "fail"
          ? { _tag: "failTurn", ids, message: `failed ${n}` }
          : { _tag: "interruptTurn", ids, reason: `interrupted ${n}` }
      })
      const exits = yield* side.run(calls)
      for (const exit of exits) {
        if (Exit.isFailure(exit)) {
          answers.push(exit.cause._tag === "Fail" ? `failed: ${exit.cause.error.reason}` : "defect")
          continue
        }
        const begun = exit.value as { readonly ids?: TurnIds; readonly duplicate?: boolean; readonly context?: unknown } | undefined
        if (begun?.ids === undefined) {
          answers.push("done")
          continue
        }
        const ids = { sessionId: names.name(begun.ids.sessionId, "s"), turnId: names.name(begun.ids.turnId, "t") }
        if (!begun.duplicate) turns.push(begun.ids)
        answers.push({ ids, duplicate: begun.duplicate, context: begun.context })
      }
    }
    const rows = (sqlText: string) => side.driver.query(sqlText, [])
    const sessions = rows("SELECT id, platform, chat_key, user, status FROM sessions ORDER BY rowid").map((r) => ({
      ...r,
      id: names.of(r["id"] as string),
      chat_key: names.of(r["chat_key"] as string)
    }))
    const turnRows = rows(
      "SELECT id, session_id, inbound_seq, status, reason, delivery, interrupted_lives, external_id, owner, ended_at IS NULL AS open FROM turns ORDER BY rowid"
    ).map((r) => ({ ...r, id: names.of(r["id"] as string), session_id: names.of(r["session_id"] as string) }))
    const messages = rows("SELECT session_id, seq, role, content, turn_id FROM messages ORDER BY rowid").map((r) => ({
      ...r,
      session_id: names.of(r["session_id"] as string),
      turn_id: names.of(r["turn_id"] as string | null)
    }))
    return { answers, sessions, turns: turnRows, messages }
  })

const quiet = Logger.minimumLogLevel(LogLevel.Warning)

const openBoth = (engine: (typeof engineCases)[number]["engine"], maxContextMessages = 200) =>
  Effect.gen(function*() {
    const open = (home: string) =>
      Effect.acquireRelease(
        openSqliteJournal(dbFile(home), { engine, maxContextMessages }, { previousLifeCrashed: false }, { recoverTurns: false, deliveryLog: false }),
        ({ db }) => Effect.ignore(db.close)
      )
    const journal = yield* open(yield* tempHome)
    const writes = yield* open(yield* tempHome)
    return { journal: journalSide(journal.db, journal.sql, journal.driver), writes: writesSide(writes.driver, maxContextMessages) }
  })

describe.each(engineCases)("the worker's turn writes on $engine", ({ available, engine }) => {
  if (!available) {
    it.skip("engine unavailable in this Node", () => {})
    return
  }

  it.effect.prop(
    "answer and leave the same rows as the journal for any steps of begins and ends",
    // A small context bound makes both trim the history they hand back.
    [stepsArbitrary, FastCheck.constantFrom(1, 2, 3, 200)],
    ([steps, maxContextMessages]) =>
      Effect.scoped(Effect.gen(function*() {
        const { journal, writes } = yield* openBoth(engine, maxContextMessages)
        const expected = yield* replay(journal, steps)
        const actual = yield* replay(writes, steps)
        expect(actual).toEqual(expected)
      })).pipe(Effect.provide(quiet)),
    { fastCheck: { numRuns: 25 } }
  )

  it.scoped("a suspended session refuses a new message, by chat key, with the journal's words", () =>
    Effect.gen(function*() {
      const { writes } = yield* openBoth(engine)
      const begin = { _tag: "beginTurn" as const, inbound: { platform: "telegram", sessionKey: "chat-9", text: "hi", history: [] } }
      const [first] = yield* writes.run([begin])
      expect(Exit.isSuccess(first!)).toBe(true)
      writes.driver.query("UPDATE sessions SET status = 'suspended'", [])
      const [refused] = yield* writes.run([begin])
      expect(refused).toSatisfy((exit: Exit.Exit<unknown, SessionDbError>) =>
        Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error.reason === "suspended" &&
        exit.cause.error.message.includes("hermes gateway sessions reactivate")
      )
    }).pipe(Effect.provide(quiet)))
})

describe("one group transaction", () => {
  const recording = (failOn: (sql: string) => boolean) => {
    const ran: Array<string> = []
    const run = (sql: string) => {
      ran.push(sql)
      if (failOn(sql)) throw new Error(`cannot ${sql}`)
    }
    return { ran, run }
  }

  it.effect.prop(
    "each call in its savepoint, a throwing one rolled back to it, one COMMIT; results in order",
    [FastCheck.array(FastCheck.boolean(), { minLength: 2, maxLength: 10 })],
    ([throws]) =>
      Effect.sync(() => {
        const { ran, run } = recording(() => false)
        const outcome = runTransaction(run, throws.map((t, i) => () => {
          if (t) throw new Error(`call ${i}`)
          return i
        }))
        expect(outcome).toEqual({
          _tag: "Done",
          results: throws.map((t, i) => (t ? { _tag: "Threw", error: new Error(`call ${i}`) } : { _tag: "Returned", value: i }))
        })
        expect(ran).toEqual([
          "BEGIN IMMEDIATE",
          ...throws.flatMap((t) => (t ? ["SAVEPOINT hermes_call", "ROLLBACK TO hermes_call", "RELEASE hermes_call"] : ["SAVEPOINT hermes_call", "RELEASE hermes_call"])),
          "COMMIT"
        ])
      })
  )

  it("a lone call has no savepoint: it throwing rolls the transaction back", () => {
    const { ran, run } = recording(() => false)
    expect(runTransaction(run, [() => 1])).toEqual({ _tag: "Done", results: [{ _tag: "Returned", value: 1 }] })
    expect(runTransaction(run, [() => {
      throw new Error("no")
    }])._tag).toBe("Done")
    expect(ran).toEqual(["BEGIN IMMEDIATE", "COMMIT", "BEGIN IMMEDIATE", "ROLLBACK"])
  })

  it("a COMMIT that fails fails the whole transaction, and it is rolled back", () => {
    const { ran, run } = recording((sql) => sql === "COMMIT")
    const outcome = runTransaction(run, [() => 1, () => 2])
    expect(outcome).toEqual({ _tag: "Failed", error: new Error("cannot COMMIT") })
    expect(ran.at(-1)).toBe("ROLLBACK")
  })

  it("a BEGIN that fails runs no call", () => {
    const { ran, run } = recording((sql) => sql.startsWith("BEGIN"))
    let called = false
    expect(runTransaction(run, [() => (called = true)])._tag).toBe("Failed")
    expect(called).toBe(false)
    expect(ran).toEqual(["BEGIN IMMEDIATE"])
  })
})
