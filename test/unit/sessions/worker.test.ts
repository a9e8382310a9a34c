// The worker-backed SessionDB (src/sessions/worker): calls that arrive together share a commit
// without sharing their failures, and a worker thread that dies is a storage failure the service
// reports at once (no call waits forever) and recovers from by starting a new thread.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Chunk from "effect/Chunk"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Agent } from "../../../src/agents/Agent.js"
import { makeTurnSupervisor } from "../../../src/lifecycle/TurnSupervisor.js"
import * as fs from "node:fs"
import * as path from "node:path"
import { defaultMaxGroup } from "../../../src/sessions/worker/GroupCommit.js"
import { startWorkerLink } from "../../../src/sessions/worker/WorkerLink.js"
import { openWorkerSessionDb } from "../../../src/sessions/worker/WorkerSessionDb.js"
import { dbFile, engineCases, inbound, openLife, tempHome } from "./harness.js"
import { testWorkerEntry } from "./workerBundle.js"

/**
 * The real worker, behind a test-only door: any message that reaches it while `killFile` exists
 * ends the thread (exit code 3) before the worker reads it, as a crash inside the engine would.
 */
const mortalEntry = (killFile: string) => ({
  url: `const { existsSync } = require("node:fs");
       import(${JSON.stringify(String(testWorkerEntry().url))}).then(() =>
         require("node:worker_threads").parentPort.on("message", () => { if (existsSync(${JSON.stringify(killFile)})) process.exit(3) }))`,
  options: { eval: true }
})

const noHang = <A, E>(what: string, effect: Effect.Effect<A, E>) =>
  Effect.timeoutFail(effect, { duration: Duration.seconds(20), onTimeout: () => new Error(`${what} hung`) })

describe.each(engineCases)("the SessionDB worker on $engine", ({ available, engine }) => {
  it.scopedLive.skipIf(!available)("calls that arrive together share a commit; one that fails leaves the others recorded", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = dbFile(home)
      const db = yield* openLife(file, engine, undefined, undefined, undefined, true)
      const first = yield* db.beginTurn(inbound({ text: "first", sessionKey: "a" }))
      const results = yield* Effect.all([
        ...Array.from({ length: 12 }, (_, i) => Effect.either(db.beginTurn(inbound({ text: `m${i}`, sessionKey: `k${i}` })))),
        Effect.either(db.completeTurn({ turnId: "no-such-turn", sessionId: first.ids.sessionId }, "x")),
        Effect.either(db.resumeTurn(first.ids.turnId)),
        Effect.either(db.completeTurn(first.ids, "reply"))
      ], { concurrency: "unbounded" })
      expect(results.slice(0, 12).every((r) => r._tag === "Right")).toBe(true)
      expect(results[12]).toMatchObject({ _tag: "Left", left: { reason: "unknown_turn" } })
      expect(results[13]).toMatchObject({ _tag: "Left", left: { reason: "turn_not_resumable" } })
      expect(results[14]?._tag).toBe("Right")
      yield* db.close
      // What the replies promised is on disk: another open (in this thread) sees all of it.
      const again = yield* openLife(file, engine, undefined, undefined, undefined, false)
      expect((yield* again.listSessions).length).toBe(13)
      expect((yield* again.transcript(first.ids.sessionId)).messages.map((m) => m.content)).toEqual(["first", "reply"])
    }))

  it.scopedLive.skipIf(!available)("an idle database has its WAL folded into the main file, so a close has nothing left to copy", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = dbFile(home)
      const db = yield* openLife(file, engine, undefined, undefined, undefined, true)
      const text = "a message only the WAL holds until a checkpoint"
      yield* db.beginTurn(inbound({ text, sessionKey: "idle" }))
      // Written to the WAL by the commit; the main file gets the page only from a checkpoint, and
      // one message is far from SQLite's own checkpoint at 1,000 pages.
      yield* noHang("the idle checkpoint", Effect.promise(async () => {
        while (!fs.readFileSync(file).includes(text)) await new Promise((resolve) => setTimeout(resolve, 20))
      }))
    }))

  it.scopedLive.skipIf(!available)("calls made in the same run of the event loop as a close are answered before the database closes", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const link = yield* startWorkerLink(testWorkerEntry(), {
        _tag: "Open",
        file: dbFile(home),
        engine,
        previousLifeCrashed: false,
        recoverTurns: true,
        maxGroup: defaultMaxGroup
      })
      // Started together, so the calls wait in the link's outbox when the close is sent: it must
      // send them first, or the worker would see the close before them and refuse them as closed.
      const results = yield* noHang("calls and close", Effect.all([
        ...Array.from({ length: 5 }, (_, i) =>
          Effect.either(link.call({ _tag: "beginTurn", inbound: { platform: "http", sessionKey: `k${i}`, text: `m${i}`, history: [] } }))),
        Effect.either(link.close)
      ], { concurrency: "unbounded" }))
      expect(results.map((r) => r._tag)).toEqual(["Right", "Right", "Right", "Right", "Right", "Right"])
      const again = yield* openLife(dbFile(home), engine, undefined, undefined, undefined, false)
      expect((yield* again.listSessions).length).toBe(5)
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, Logger.none))))

  it.scopedLive.skipIf(!available)("a worker that dies fails the call in flight and new calls with \"storage\", then is started again", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = dbFile(home)
      const killFile = path.join(home, "kill-worker")
      const db = yield* Effect.acquireRelease(
        openWorkerSessionDb(file, { engine, entry: mortalEntry(killFile), respawn: Schedule.spaced(Duration.millis(20)) }, { previousLifeCrashed: false }),
        (db) => Effect.ignore(db.close)
      )
      const begun = yield* db.beginTurn(inbound({ text: "before", sessionKey: "k" }))

      fs.writeFileSync(killFile, "")
      const inFlight = yield* noHang("the call in flight when the worker died", Effect.flip(db.completeTurn(begun.ids, "lost")))
      expect(inFlight).toMatchObject({ _tag: "SessionDbError", reason: "storage" })
      expect(inFlight.message).toMatch(/worker thread exited \(code 3\)/)
      const refused = yield* noHang("a call while the worker is down", Effect.flip(db.beginTurn(inbound({ text: "refused", sessionKey: "k" }))))
      expect(refused.reason).toBe("storage")

      fs.rmSync(killFile)
      // Started again: the same database, and the turn left running is still this life's to end.
      const recovered = yield* noHang(
        "recovery",
        db.completeTurn(begun.ids, "after").pipe(Effect.retry({ while: (e) => e.reason === "storage", schedule: Schedule.spaced(Duration.millis(20)) }))
      )
      expect(recovered).toBeUndefined()
      const transcript = yield* db.transcript(begun.ids.sessionId)
      expect(transcript.messages.map((m) => [m.content, m.turnStatus])).toEqual([["before", "completed"], ["after", "completed"]])
      yield* db.close
    }))

  it.scopedLive.skipIf(!available)("the kernel refuses a new turn with \"storage\" (HTTP 503) while the worker is dead, and takes turns again once it is back", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const killFile = path.join(home, "kill-worker")
      const db = yield* Effect.acquireRelease(
        openWorkerSessionDb(dbFile(home), { engine, entry: mortalEntry(killFile), respawn: Schedule.spaced(Duration.millis(20)) }, { previousLifeCrashed: false }),
        (db) => Effect.ignore(db.close)
      )
      const supervisor = yield* makeTurnSupervisor(db).pipe(
        Effect.provide(Layer.succeed(Agent, { model: "echo", respond: () => Stream.make("ok") }))
      )
      const outcomeOf = (text: string) =>
        Stream.runCollect(supervisor.intake.submit({ platform: "http", sessionKey: undefined, text, history: [] })).pipe(
          Effect.map((events) => Chunk.toReadonlyArray(events).find((e) => e._tag === "Outcome")),
          Effect.map((event) => (event?._tag === "Outcome" ? event.outcome : undefined))
        )
      expect(yield* outcomeOf("before")).toMatchObject({ _tag: "Completed" })
      fs.writeFileSync(killFile, "")
      // ChatCompletions answers a Refused "storage" outcome with 503 and Retry-After.
      expect(yield* noHang("a turn while the worker dies", outcomeOf("while dead"))).toMatchObject({ _tag: "Refused", reason: "storage" })
      fs.rmSync(killFile)
      const after = yield* noHang(
        "a turn once the worker is back",
        outcomeOf("after").pipe(
          Effect.filterOrFail((o) => o?._tag !== "Refused", () => "still refused"),
          Effect.retry(Schedule.spaced(Duration.millis(20)))
        )
      )
      expect(after).toMatchObject({ _tag: "Completed", reply: "ok" })
    }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger))))
})
