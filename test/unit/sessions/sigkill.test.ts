// A real crash: a child process records turns until it is SIGKILLed mid-stream; the next open
// (crash recovery) must find every turn the child acknowledged, intact, and a consistent file.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { RecoveryReport } from "../../../src/sessions/CrashRecovery.js"
import { databaseFiles } from "../../../src/sessions/DatabaseFiles.js"
import type { EngineName } from "../../../src/sessions/SqliteDriver.js"
import { dbFile, engineCases, openLife, tempHome } from "./harness.js"

const writer = fileURLToPath(new URL("./fixtures/turn-writer.ts", import.meta.url))
const root = fileURLToPath(new URL("../../..", import.meta.url))

interface ChildLog {
  readonly acked: Map<string, { sessionId: string; text: string }>
  readonly done: Set<string>
}

/** Runs the writer until it has acknowledged `acks` turns, then SIGKILLs it. */
const killAfter = (file: string, engine: EngineName, acks: number) =>
  Effect.async<ChildLog, Error>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", writer, file, engine], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    const log: ChildLog = { acked: new Map(), done: new Set() }
    let buffer = ""
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => void (stderr += chunk.toString()))
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString()
      const lines = buffer.split("\n")
      buffer = lines.pop() ?? ""
      for (const line of lines) {
        const [kind, turnId, sessionId, ...text] = line.split(" ")
        if (kind === "ack" && turnId && sessionId) log.acked.set(turnId, { sessionId, text: text.join(" ") })
        if (kind === "done" && turnId) log.done.add(turnId)
      }
      if (log.acked.size >= acks && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    })
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resume(Effect.succeed(log))
      else resume(Effect.fail(new Error(`writer exited with ${code}: ${stderr}`)))
    })
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

describe.each(engineCases)("SIGKILL mid-stream on $label", ({ available, engine }) => {
  if (!available) {
    it.skip("engine unavailable in this Node", () => {})
    return
  }

  it.scopedLive("every acknowledged turn survives, and recovery leaves none running", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const log = yield* killAfter(file, engine, 150)
      expect(log.acked.size).toBeGreaterThanOrEqual(150)
      if (engine === "node-sqlite3-wasm") {
        // The guard matters: the killed process left its lock directory behind.
        expect(fs.existsSync(databaseFiles(file).lockDir)).toBe(true)
      }

      const reports: Array<RecoveryReport> = []
      const db = yield* openLife(file, engine, { previousLifeCrashed: true, onRecovery: (r) => Effect.sync(() => void reports.push(r)) })
      expect(reports[0]).toMatchObject({ integrity: "ok", moved_aside: null, turns_failed: 0 })
      const turns = new Map((yield* db.turns()).map((t) => [t.id, t]))
      for (const [turnId, { sessionId }] of log.acked) {
        const turn = turns.get(turnId)
        expect(turn, `acknowledged turn ${turnId}`).toBeDefined()
        expect(turn!.sessionId).toBe(sessionId)
        if (log.done.has(turnId)) expect(turn!.status).toBe("completed")
        else expect(["interrupted", "resume_pending", "completed"]).toContain(turn!.status)
      }
      expect([...turns.values()].filter((t) => t.status === "running")).toEqual([])
      // Transcripts hold each acknowledged inbound message at its turn's seq.
      const sessions = yield* db.listSessions
      for (const session of sessions) {
        const t = yield* db.transcript(session.id)
        expect(t.messages.map((m) => m.seq)).toEqual(t.messages.map((_, i) => i + 1))
        for (const m of t.messages) {
          if (m.role === "user" && m.turnId !== null && log.acked.has(m.turnId)) {
            expect(m.content).toBe(log.acked.get(m.turnId)!.text)
          }
        }
      }
      expect(path.basename(file)).toBe("state.db")
    }), { timeout: 60_000 })
})
