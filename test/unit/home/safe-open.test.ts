// Writes into the home never go through a symbolic link, and the home's files are checked (start-up)
// and audited (doctor) for links, foreign owners and loose modes. Real files, links and FIFOs; the
// foreign-owner cases chown to nobody (65534) and need root.
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { auditHomeFiles, homeEntries, secureEntriesSync, secureHomeFiles } from "../../../src/home/HomeFiles.js"
import { homePaths } from "../../../src/home/HomePaths.js"
import {
  appendNoFollowSync,
  ensurePrivateDirectorySync,
  openNoFollow,
  truncateNoFollowSync,
  UnsafeHomeFile
} from "../../../src/home/SafeOpen.js"
import { spawnShutdownDiagnostic } from "../../../src/forensics/DiagnosticChild.js"
import { writeDiagnosticReport } from "../../../src/forensics/DiagnosticReport.js"
import { liveHomeStore } from "../../../src/home/HomeStore.js"
import { clearDeliveryLog, makeDeliveryLog } from "../../../src/sessions/DeliveryLog.js"
import { guardDatabaseFiles } from "../../../src/sessions/DatabaseFiles.js"

const isRoot = typeof process.getuid === "function" && process.getuid() === 0
const nobody = 65534

let dir = ""
let outside = ""
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-safeopen-"))
  fs.chmodSync(dir, 0o700)
  outside = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-outside-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.rmSync(outside, { recursive: true, force: true })
})

/** A file outside the home with known content and mode 0644: what a planted link points at. */
const victim = (name = "victim.txt") => {
  const file = path.join(outside, name)
  fs.writeFileSync(file, "not the gateway's\n")
  fs.chmodSync(file, 0o644)
  return {
    file,
    untouched: () => {
      expect(fs.readFileSync(file, "utf8")).toBe("not the gateway's\n")
      expect(fs.statSync(file).mode & 0o777).toBe(0o644)
    }
  }
}

describe("SafeOpen", () => {
  it("append, truncate and open refuse a link at the name, naming the file; the target is untouched", () => {
    const target = victim()
    const link = path.join(dir, "lifecycle.jsonl")
    fs.symlinkSync(target.file, link)
    expect(() => appendNoFollowSync(link, "x\n")).toThrow(UnsafeHomeFile)
    expect(() => appendNoFollowSync(link, "x\n")).toThrow(`${link} is a symbolic link (-> ${target.file})`)
    expect(() => truncateNoFollowSync(link)).toThrow(/is a symbolic link/)
    expect(() => openNoFollow(link, fs.constants.O_WRONLY | fs.constants.O_CREAT)).toThrow(/is a symbolic link/)
    target.untouched()
  })

  it("refuses a FIFO without hanging, and a directory", () => {
    const fifo = path.join(dir, "fifo")
    execFileSync("mkfifo", [fifo])
    expect(() => appendNoFollowSync(fifo, "x")).toThrow(/is a named pipe, not a regular file/)
    fs.mkdirSync(path.join(dir, "d"))
    expect(() => openNoFollow(path.join(dir, "d"), fs.constants.O_RDONLY)).toThrow(/is a directory, not a regular file/)
  })

  it("creates 0600 whatever the umask, and tightens a loose file it writes", () => {
    const old = process.umask(0)
    try {
      const file = path.join(dir, "a.log")
      appendNoFollowSync(file, "one\n")
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      fs.chmodSync(file, 0o666)
      appendNoFollowSync(file, "two\n")
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      expect(fs.readFileSync(file, "utf8")).toBe("one\ntwo\n")
    } finally {
      process.umask(old)
    }
  })

  it("ensurePrivateDirectorySync creates 0700 and refuses a link to a directory or a file in its place", () => {
    const old = process.umask(0)
    try {
      const logs = path.join(dir, "logs")
      ensurePrivateDirectorySync(logs)
      expect(fs.statSync(logs).mode & 0o777).toBe(0o700)
      fs.rmdirSync(logs)
      fs.symlinkSync(outside, logs)
      expect(() => ensurePrivateDirectorySync(logs)).toThrow(`${logs} is a symbolic link (-> ${outside})`)
      fs.unlinkSync(logs)
      fs.writeFileSync(logs, "")
      expect(() => ensurePrivateDirectorySync(logs)).toThrow(/is a regular file, not a directory/)
      expect(fs.readdirSync(outside)).toEqual([])
    } finally {
      process.umask(old)
    }
  })

  it("the delivery log never appends to nor truncates a link's target", () => {
    const target = victim()
    const log = path.join(dir, "state.db-delivered")
    fs.symlinkSync(target.file, log)
    expect(() => makeDeliveryLog(log).append("turn1")).toThrow(/is a symbolic link/)
    expect(() => clearDeliveryLog(log)).toThrow(/is a symbolic link/)
    target.untouched()
  })
})

describe("writers of logs/ meet a link planted after start-up", () => {
  it("the lifecycle log, the diagnostic child's log and SIGUSR2 reports refuse a logs/ that is a link", () => {
    const logs = path.join(dir, "logs")
    fs.symlinkSync(outside, logs)
    const appended = Effect.runSyncExit(liveHomeStore(homePaths(dir)).appendLifecycle({ event: "start", at: "2026-12-05T00:00:00.000Z", pid: 1 }))
    expect(Exit.isFailure(appended)).toBe(true)
    expect(JSON.stringify(appended)).toContain(`${logs} is a symbolic link`)
    const child = spawnShutdownDiagnostic(path.join(logs, "shutdown-diag.log"), { pid: process.pid, signal: "SIGTERM" })
    expect(child).toMatchObject({ _tag: "Skipped", reason: expect.stringContaining(`${logs} is a symbolic link`) })
    const report = writeDiagnosticReport({ logsDir: logs, activeTurns: 0, phase: "running" })
    expect(report).toMatchObject({ report: null, summary: null })
    expect(report.errors.join("\n")).toContain(`${logs} is a symbolic link`)
    expect(fs.readdirSync(outside), "nothing written where the link points").toEqual([])
  })

  it("the diagnostic child never appends to a link at logs/shutdown-diag.log", () => {
    const target = victim()
    fs.mkdirSync(path.join(dir, "logs"), { mode: 0o700 })
    fs.symlinkSync(target.file, path.join(dir, "logs", "shutdown-diag.log"))
    const child = spawnShutdownDiagnostic(path.join(dir, "logs", "shutdown-diag.log"), { pid: process.pid, signal: "SIGTERM" })
    expect(child).toMatchObject({ _tag: "Skipped", reason: expect.stringContaining("is a symbolic link") })
    target.untouched()
  })
})

describe("start-up check of the home's files", () => {
  const paths = () => homePaths(dir)

  it.each(["state.db", "state.db-wal", "state.db-shm", "state.db-journal", "state.db-delivered", "logs", "logs/lifecycle.jsonl", "logs/shutdown-diag.log"])(
    "a link at %s is refused (78) naming it; nothing is changed",
    (name) => {
      const target = victim()
      if (name.startsWith("logs/")) fs.mkdirSync(path.join(dir, "logs"), { mode: 0o700 })
      fs.symlinkSync(name === "logs" ? outside : target.file, path.join(dir, name))
      const exit = Effect.runSyncExit(secureHomeFiles(paths()))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const error = (exit.cause as { error?: { message: string; exitCode: number; files: ReadonlyArray<string> } }).error!
        expect(error.exitCode).toBe(78)
        expect(error.files).toEqual([path.join(dir, name)])
        expect(error.message).toContain(`${path.join(dir, name)} is a symbolic link`)
      }
      target.untouched()
    }
  )

  it("a link at a file replaced by rename (gateway_state.json, telegram_offset.json) is not refused: readers treat it as absent", () => {
    const target = victim()
    fs.symlinkSync(target.file, path.join(dir, "gateway_state.json"))
    fs.symlinkSync(target.file, path.join(dir, "telegram_offset.json"))
    expect(secureEntriesSync(homeEntries(paths()))).toEqual({ refused: [], tightened: [] })
    target.untouched()
  })

  it("a loose state.db, delivery log, ledger and logs/ are tightened and reported with their old mode", () => {
    const db = path.join(dir, "state.db")
    fs.writeFileSync(db, "")
    fs.chmodSync(db, 0o644)
    fs.writeFileSync(`${db}-delivered`, "")
    fs.chmodSync(`${db}-delivered`, 0o664)
    fs.writeFileSync(path.join(dir, "telegram_offset.json"), "{}")
    fs.chmodSync(path.join(dir, "telegram_offset.json"), 0o644)
    fs.mkdirSync(path.join(dir, "logs"))
    fs.chmodSync(path.join(dir, "logs"), 0o755)
    const tightened = Effect.runSync(secureHomeFiles(paths()))
    expect(tightened.map((t) => [path.basename(t.file), t.from.toString(8), t.to.toString(8)]).sort()).toEqual([
      ["logs", "755", "700"],
      ["state.db", "644", "600"],
      ["state.db-delivered", "664", "600"],
      ["telegram_offset.json", "644", "600"]
    ])
    expect(fs.statSync(db).mode & 0o777).toBe(0o600)
    expect(fs.statSync(path.join(dir, "logs")).mode & 0o777).toBe(0o700)
  })

  it("guardDatabaseFiles refuses a link at the WAL and at the wasm lock directory", () => {
    const target = victim()
    const db = path.join(dir, "state.db")
    fs.symlinkSync(target.file, `${db}-wal`)
    expect(() => guardDatabaseFiles(db)).toThrow(`${db}-wal is a symbolic link`)
    fs.unlinkSync(`${db}-wal`)
    fs.symlinkSync(outside, `${db}.lock`)
    expect(() => guardDatabaseFiles(db)).toThrow(`${db}.lock is a symbolic link`)
    target.untouched()
  })

  it.skipIf(!isRoot)("a state file or marker written by another user (a stopper run with sudo) is not refused (needs root)", () => {
    for (const name of ["gateway_state.json", ".gateway-planned-stop.json"]) {
      fs.writeFileSync(path.join(dir, name), "{}", { mode: 0o644 })
      fs.chownSync(path.join(dir, name), nobody, nobody)
    }
    expect(secureEntriesSync(homeEntries(paths()), 0)).toEqual({ refused: [], tightened: [] })
    expect(auditHomeFiles(paths()).join("\n"), "doctor still names them").toContain(`gateway_state.json is owned by uid ${nobody}`)
  })

  it.skipIf(!isRoot)("a state.db owned by another user is refused, not tightened (needs root)", () => {
    const db = path.join(dir, "state.db")
    fs.writeFileSync(db, "")
    fs.chmodSync(db, 0o644)
    fs.chownSync(db, nobody, nobody)
    expect(() => guardDatabaseFiles(db)).toThrow(`${db} is owned by uid ${nobody}, not by the home's owner (uid 0)`)
    expect(fs.statSync(db).mode & 0o777).toBe(0o644)
  })
})

describe("doctor's audit of the home's files", () => {
  it("the secrets file gateway.env: 0600 is fine, readable by others is named with the chmod that fixes it", () => {
    const env = path.join(dir, "gateway.env")
    fs.writeFileSync(env, "TELEGRAM_BOT_TOKEN=123:abc\n", { mode: 0o600 })
    fs.chmodSync(env, 0o600)
    expect(auditHomeFiles(homePaths(dir))).toEqual([])
    fs.chmodSync(env, 0o644)
    expect(auditHomeFiles(homePaths(dir))).toEqual([
      `${env} has mode 0644: other users may read the gateway's secrets (\`chmod 600 ${env}\`)`
    ])
    fs.rmSync(env)
    fs.mkdirSync(env)
    expect(auditHomeFiles(homePaths(dir)).join("\n")).toContain(`${env} is not a regular file`)
  })

  it.skipIf(!isRoot)("a gateway.env owned by another user than the home's owner or root is named (needs root)", () => {
    const env = path.join(dir, "gateway.env")
    fs.writeFileSync(env, "OPENAI_API_KEY=sk-x\n", { mode: 0o600 })
    fs.chmodSync(env, 0o600)
    fs.chownSync(env, nobody, nobody)
    expect(auditHomeFiles(homePaths(dir))).toEqual([
      `${env} is owned by uid ${nobody}, not by the home's owner (uid 0) or root: that user can change the gateway's secrets`
    ])
  })

  it("a sound home has no findings", () => {
    fs.mkdirSync(path.join(dir, "logs"), { mode: 0o700 })
    fs.writeFileSync(path.join(dir, "state.db"), "", { mode: 0o600 })
    fs.writeFileSync(path.join(dir, "logs", "lifecycle.jsonl"), "", { mode: 0o600 })
    fs.writeFileSync(path.join(dir, "config.yaml"), "", { mode: 0o644 })
    expect(auditHomeFiles(homePaths(dir))).toEqual([])
  })

  it("one line per problem: a link, a loose file, a loose directory, a loose report under logs/, a writable config", () => {
    const target = victim()
    fs.mkdirSync(path.join(dir, "logs"))
    fs.chmodSync(path.join(dir, "logs"), 0o755)
    fs.symlinkSync(target.file, path.join(dir, "logs", "lifecycle.jsonl"))
    fs.writeFileSync(path.join(dir, "gateway_state.json"), "{}")
    fs.chmodSync(path.join(dir, "gateway_state.json"), 0o644)
    fs.writeFileSync(path.join(dir, "logs", "diagnostic-x.report.json"), "{}")
    fs.chmodSync(path.join(dir, "logs", "diagnostic-x.report.json"), 0o640)
    fs.writeFileSync(path.join(dir, "state.db.corrupt-20260101T000000.000Z"), "")
    fs.chmodSync(path.join(dir, "state.db.corrupt-20260101T000000.000Z"), 0o604)
    fs.writeFileSync(path.join(dir, "config.yaml"), "")
    fs.chmodSync(path.join(dir, "config.yaml"), 0o666)
    fs.writeFileSync(path.join(dir, "notes.txt"), "the operator's, not audited")
    fs.chmodSync(path.join(dir, "notes.txt"), 0o666)
    // a supervisor's own log (the generated supervisord program writes logs/gateway.log) is its writer's
    fs.writeFileSync(path.join(dir, "logs", "gateway.log"), "supervisord's, not audited")
    fs.chmodSync(path.join(dir, "logs", "gateway.log"), 0o644)
    const problems = auditHomeFiles(homePaths(dir))
    expect(problems).toHaveLength(6)
    expect(problems.join("\n")).toContain(`${path.join(dir, "logs", "lifecycle.jsonl")} is a symbolic link (-> ${target.file})`)
    expect(problems.join("\n")).toContain(`${path.join(dir, "logs")} has mode 0755`)
    expect(problems.join("\n")).toContain(`${path.join(dir, "gateway_state.json")} has mode 0644`)
    expect(problems.join("\n")).toContain(`diagnostic-x.report.json has mode 0640`)
    expect(problems.join("\n")).toContain(`state.db.corrupt-20260101T000000.000Z has mode 0604`)
    expect(problems.join("\n")).toContain(`config.yaml has mode 0666`)
    expect(fs.statSync(path.join(dir, "gateway_state.json")).mode & 0o777, "doctor changes nothing").toBe(0o644)
    target.untouched()
  })

  it.skipIf(!isRoot)("a file owned by another user than the home's owner is named with both uids (needs root)", () => {
    fs.writeFileSync(path.join(dir, "state.db-delivered"), "", { mode: 0o600 })
    fs.chownSync(path.join(dir, "state.db-delivered"), nobody, nobody)
    expect(auditHomeFiles(homePaths(dir))).toEqual([
      expect.stringContaining(`state.db-delivered is owned by uid ${nobody}, not by the home's owner (uid 0)`)
    ])
  })
})
