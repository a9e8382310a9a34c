// Crash recovery at open: turns a dead life left running, the three-lives breaker, the report the
// kernel logs, corrupt files moved aside (never deleted), and the wasm engine's stale lock.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { RecoveryReport } from "../../../src/sessions/CrashRecovery.js"
import { crashReason, unrecordedReason } from "../../../src/sessions/CrashRecovery.js"
import { databaseFiles } from "../../../src/sessions/DatabaseFiles.js"
import { withSessionDb } from "../../../src/sessions/SqliteSessionStore.js"
import type { EngineName } from "../../../src/sessions/SqliteDriver.js"
import { dbFile, inbound, openLife, tempHome, storeCases } from "./harness.js"

const crashedOpen = (reports: Array<RecoveryReport>) => ({
  previousLifeCrashed: true,
  onRecovery: (report: RecoveryReport) => Effect.sync(() => void reports.push(report))
})

describe.each(storeCases)("crash recovery on $label", ({ available, engine }) => {
  if (!available) {
    it.skip("engine unavailable in this Node", () => {})
    return
  }

  it.scopedLive("turns running when the gateway died become interrupted (http) or resume_pending (push), one life counted", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const dead = yield* openLife(file, engine)
      const httpTurn = yield* dead.beginTurn(inbound({ text: "http question", sessionKey: "u1" }))
      const pushTurn = yield* dead.beginTurn(inbound({ text: "push question", platform: "telegram", sessionKey: "chat-1" }))
      const finished = yield* dead.beginTurn(inbound({ text: "answered", sessionKey: "u2" }))
      yield* dead.completeTurn(finished.ids, "answer")
      // The life ends without recording the two running turns: what SIGKILL leaves on disk.
      yield* dead.close

      const reports: Array<RecoveryReport> = []
      const next = yield* openLife(file, engine, crashedOpen(reports))
      const byId = new Map((yield* next.turns()).map((t) => [t.id, t]))
      expect(byId.get(httpTurn.ids.turnId)).toMatchObject({ status: "interrupted", reason: crashReason, interruptedLives: 1 })
      expect(byId.get(pushTurn.ids.turnId)).toMatchObject({ status: "resume_pending", reason: crashReason, interruptedLives: 1 })
      expect(byId.get(finished.ids.turnId)).toMatchObject({ status: "completed", interruptedLives: 0 })
      // The inbound messages the client saw acknowledged are all there.
      expect((yield* next.transcript(pushTurn.ids.sessionId)).messages.map((m) => m.content)).toEqual(["push question"])

      expect(reports).toHaveLength(1)
      const report = reports[0]!
      expect(report).toMatchObject({
        // PostgreSQL names its database (user@host:port/db) and has no integrity_check to run.
        ...(engine === "postgresql" ? { integrity: "not checked" } : { file, integrity: "ok" }),
        engine,
        previous_life_crashed: true,
        moved_aside: null,
        turns_interrupted: 1,
        turns_resume_pending: 1,
        turns_failed: 0,
        sessions_suspended: []
      })
      expect(report.took_ms).toBeGreaterThanOrEqual(0)
      expect(JSON.parse(JSON.stringify(report))).toEqual(report)
    }))

  it.scopedLive("a turn running in three lives that died fails and suspends its session (restart-loop breaker)", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const first = yield* openLife(file, engine)
      const turn = yield* first.beginTurn(inbound({ text: "poison", platform: "telegram", sessionKey: "chat-7" }))
      yield* first.close
      const reports: Array<RecoveryReport> = []
      // Lives 2 and 3 resume the turn and die with it running again.
      for (const lives of [1, 2]) {
        const life = yield* openLife(file, engine, crashedOpen(reports))
        expect((yield* life.turns())[0]).toMatchObject({ status: "resume_pending", interruptedLives: lives })
        yield* life.resumeTurn(turn.ids.turnId)
        yield* life.close
      }
      const fourth = yield* openLife(file, engine, crashedOpen(reports))
      const [recorded] = yield* fourth.turns()
      expect(recorded).toMatchObject({ status: "failed", interruptedLives: 3 })
      expect(recorded!.reason).toContain("restart-loop breaker")
      expect(reports.map((r) => [r.turns_resume_pending, r.turns_failed])).toEqual([[1, 0], [1, 0], [0, 1]])
      expect(reports[2]!.sessions_suspended).toEqual([turn.ids.sessionId])

      const sessions = yield* fourth.listSessions
      expect(sessions[0]).toMatchObject({ id: turn.ids.sessionId, status: "suspended" })
      const refused = yield* Effect.flip(fourth.beginTurn(inbound({ text: "again", platform: "telegram", sessionKey: "chat-7" })))
      expect(refused.reason).toBe("suspended")
      expect(refused.message).toContain("suspended")
      // Other sessions are unaffected; an operator can lift the suspension.
      yield* fourth.beginTurn(inbound({ text: "hello", platform: "telegram", sessionKey: "chat-8" }))
      yield* fourth.reactivateSession(turn.ids.sessionId)
      const after = yield* fourth.beginTurn(inbound({ text: "again", platform: "telegram", sessionKey: "chat-7" }))
      expect(after.ids.sessionId).toBe(turn.ids.sessionId)
    }))

  it.scopedLive("after an orderly stop: no integrity check and no report unless something needed repair", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const reports: Array<RecoveryReport> = []
      const onRecovery = (report: RecoveryReport) => Effect.sync(() => void reports.push(report))
      const first = yield* openLife(file, engine, { previousLifeCrashed: false, onRecovery })
      const done = yield* first.beginTurn(inbound({ text: "a" }))
      yield* first.completeTurn(done.ids, "b")
      yield* first.close
      const second = yield* openLife(file, engine, { previousLifeCrashed: false, onRecovery })
      expect(reports).toEqual([])
      // A turn left running without a crash (its end was never recorded) is still recovered.
      const orphan = yield* second.beginTurn(inbound({ text: "c", platform: "telegram", sessionKey: "x" }))
      yield* second.close
      const third = yield* openLife(file, engine, { previousLifeCrashed: false, onRecovery })
      expect(reports).toHaveLength(1)
      expect(reports[0]).toMatchObject({ previous_life_crashed: false, integrity: "not checked", turns_resume_pending: 1 })
      expect((yield* third.turns({ status: "resume_pending" }))[0]).toMatchObject({ id: orphan.ids.turnId, reason: unrecordedReason })
    }))

  // SQLite files only (PostgreSQL keeps no file in the home).
  it.scopedLive.skipIf(engine === "postgresql")("a file that is not a database is moved aside with its WAL, reported, and replaced by a fresh one", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = dbFile(home)
      const garbage = Buffer.from("this is not sqlite; ".repeat(300))
      fs.writeFileSync(file, garbage)
      fs.writeFileSync(`${file}-wal`, "stray wal bytes")
      const reports: Array<RecoveryReport> = []
      const logs: Array<string> = []
      const db = yield* openLife(file, engine, { previousLifeCrashed: false, onRecovery: (r) => Effect.sync(() => void reports.push(r)) }, {}, logs)
      yield* db.beginTurn(inbound({ text: "fresh start" }))

      expect(reports).toHaveLength(1)
      const moved = reports[0]!.moved_aside!
      expect(moved.reason).toMatch(/file is not a database/)
      expect(path.basename(moved.moved_to)).toMatch(/^state\.db\.corrupt-\d{8}T\d{6}\.\d{3}Z$/)
      expect(moved.files).toEqual([moved.moved_to, `${moved.moved_to}-wal`])
      expect(fs.readFileSync(moved.moved_to)).toEqual(garbage)
      expect(fs.readFileSync(`${moved.moved_to}-wal`, "utf8")).toBe("stray wal bytes")
      expect(logs.some((l) => l.startsWith("ERROR") && l.includes(file) && l.includes(moved.moved_to))).toBe(true)
      expect((yield* db.listSessions)).toHaveLength(1)
    }))

  // SQLite files only (PostgreSQL keeps no file in the home).
  it.scopedLive.skipIf(engine === "postgresql")("damaged pages found by the integrity check after a crash: moved aside, not recreated over", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const db = yield* openLife(file, engine)
      for (let i = 0; i < 60; i++) {
        const turn = yield* db.beginTurn(inbound({ text: `message ${i} ${"x".repeat(400)}`, sessionKey: `k${i % 6}` }))
        yield* db.completeTurn(turn.ids, `reply ${i} ${"y".repeat(400)}`)
      }
      yield* db.close
      const size = fs.statSync(file).size
      expect(size).toBeGreaterThan(16 * 4096)
      // Overwrite pages in the middle of the file (the 100-byte header stays intact).
      const fd = fs.openSync(file, "r+")
      fs.writeSync(fd, Buffer.alloc(3 * 4096, 0xa5), 0, 3 * 4096, 6 * 4096)
      fs.closeSync(fd)
      const damaged = fs.readFileSync(file)

      const reports: Array<RecoveryReport> = []
      const next = yield* openLife(file, engine, crashedOpen(reports))
      expect(reports).toHaveLength(1)
      const report = reports[0]!
      expect(report.moved_aside).not.toBeNull()
      expect(report.integrity).toMatch(/^failed: /)
      expect(fs.readFileSync(report.moved_aside!.moved_to)).toEqual(damaged)
      expect(yield* next.listSessions).toEqual([])
    }))

  // SQLite files only (PostgreSQL keeps no file in the home).
  it.scopedLive.skipIf(engine === "postgresql")("the CLI's withSessionDb reads without creating, recovering or moving anything", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const file = dbFile(home)
      const missing = yield* Effect.flip(withSessionDb(file, (db) => db.listSessions, { engine: engine as EngineName }))
      expect(missing.reason).toBe("missing")
      expect(fs.existsSync(file)).toBe(false)

      const life = yield* openLife(file, engine)
      const turn = yield* life.beginTurn(inbound({ text: "q", sessionKey: "k" }))
      yield* life.close
      const seen = yield* withSessionDb(file, (db) =>
        Effect.all([db.listSessions, db.transcript(turn.ids.sessionId), db.turns()]), { engine: engine as EngineName })
      expect(seen[0]).toHaveLength(1)
      expect(seen[1].messages.map((m) => [m.content, m.turnStatus])).toEqual([["q", "running"]])
      expect(seen[2][0]!.status).toBe("running") // recovery is the next gateway's job

      fs.writeFileSync(file, "garbage ".repeat(200))
      const corrupt = yield* Effect.flip(withSessionDb(file, (db) => db.listSessions, { engine: engine as EngineName }))
      expect(corrupt.reason).toBe("corrupt")
      expect(corrupt.message).toContain(file)
      expect(fs.readdirSync(home).filter((f) => f.includes("corrupt"))).toEqual([])
    }))

  it.scopedLive.skipIf(engine !== "node-sqlite3-wasm")("a stale .lock directory left by a killed process is removed at open (wasm)", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const first = yield* openLife(file, engine)
      const turn = yield* first.beginTurn(inbound({ text: "before the kill" }))
      yield* first.close
      fs.mkdirSync(databaseFiles(file).lockDir)
      const reports: Array<RecoveryReport> = []
      const logs: Array<string> = []
      const next = yield* openLife(file, engine, { previousLifeCrashed: false, onRecovery: (r) => Effect.sync(() => void reports.push(r)) }, {}, logs)
      expect((yield* next.transcript(turn.ids.sessionId)).messages).toHaveLength(1)
      yield* next.beginTurn(inbound({ text: "after" }))
      expect(reports[0]?.removed_stale_lock).toBe(true)
      expect(logs.some((l) => l.includes("stale lock directory"))).toBe(true)
      yield* next.close
      expect(fs.existsSync(databaseFiles(file).lockDir)).toBe(false)
    }))
})
