// sessions.retention inside the gateway (issue "Operators' experience", item 8): off at 0, a first
// pass shortly after start-up and then one a day, skipped while draining, a failure logged and left
// for the next pass. Time is the TestClock's.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as TestClock from "effect/TestClock"
import { firstRetentionRun, retentionEvery, runSessionRetention } from "../../../src/lifecycle/SessionRetention.js"
import { SessionDbError, type SessionDbService } from "../../../src/sessions/SessionDb.js"
import { emptyJournal, memorySessionDb } from "../../../src/sessions/MemorySessionDb.js"

const collecting = (lines: Array<string>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
    })
  )

/** A journal with one finished conversation, recorded now (real time). */
const journalWithOneSession = Effect.gen(function*() {
  const db = memorySessionDb(emptyJournal())
  const begun = yield* db.beginTurn({ platform: "http", sessionKey: "alice", history: [], text: "hi" })
  yield* db.completeTurn(begun.ids, "hello")
  return db
})

describe("sessions.retention in the gateway", () => {
  it.scoped("0 (the default) turns it off: nothing is scheduled", () =>
    Effect.gen(function*() {
      const db = yield* journalWithOneSession
      yield* runSessionRetention(db, Duration.zero, Effect.succeed(false))
      yield* runSessionRetention(db, undefined, Effect.succeed(false))
      expect(yield* db.listSessions).toHaveLength(1)
    }))

  it.scoped("a first pass shortly after start-up, then one a day; each logged", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const db = yield* journalWithOneSession
      // Eight days after the session's last activity, with a retention of a week.
      yield* TestClock.setTime(Date.now() + Duration.toMillis(Duration.days(8)))
      const fiber = yield* Effect.forkScoped(
        runSessionRetention(db, Duration.days(7), Effect.succeed(false)).pipe(Effect.provide(collecting(lines)))
      )
      yield* TestClock.adjust(Duration.subtract(firstRetentionRun, Duration.millis(1)))
      expect(lines).toEqual([])
      yield* TestClock.adjust(Duration.millis(1))
      expect(yield* db.listSessions).toEqual([])
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/^INFO sessions\.retention \(1w\): removed 1 session\(s\), 1 turn\(s\) and 2 message\(s\) last active before /)
      yield* TestClock.adjust(retentionEvery)
      expect(lines).toHaveLength(2)
      expect(lines[1]).toContain("removed 0 session(s)")
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("skipped while the gateway drains; a failing prune is logged and the schedule goes on", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const base = yield* journalWithOneSession
      let calls = 0
      const failing: SessionDbService = {
        ...base,
        prune: (cutoff) => {
          calls++
          return calls === 1
            ? Effect.fail(new SessionDbError({ message: "disk I/O error", reason: "storage" }))
            : base.prune(cutoff)
        }
      }
      let draining = true
      yield* TestClock.setTime(Date.now() + Duration.toMillis(Duration.days(8)))
      yield* Effect.forkScoped(
        runSessionRetention(failing, Duration.days(7), Effect.sync(() => draining)).pipe(Effect.provide(collecting(lines)))
      )
      yield* TestClock.adjust(firstRetentionRun)
      expect(lines).toEqual(["INFO sessions.retention: skipped, the gateway is draining"])
      expect(calls).toBe(0)
      draining = false
      yield* TestClock.adjust(retentionEvery)
      expect(lines[1]).toBe("WARN sessions.retention: cannot prune (disk I/O error); trying again in a day")
      yield* TestClock.adjust(retentionEvery)
      expect(lines[2]).toContain("removed 1 session(s)")
      expect(yield* base.listSessions).toEqual([])
    }))
})
