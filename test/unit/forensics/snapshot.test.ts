// The phase-0 snapshot records what was around a stop and never throws; its log line is one line.
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  cmdlineLimit,
  detectSupervisorHint,
  formatSnapshot,
  formatValue,
  liveSnapshotSources,
  parseTracerPid,
  type Snapshot,
  type SnapshotSources,
  takeSnapshot
} from "../../../src/forensics/Snapshot.js"

const self = { pid: 4242, startTime: "987654" }

let dir = ""
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-snapshot-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const markerPath = () => path.join(dir, ".gateway-planned-stop.json")

/** Sources backed by a fake /proc; files not listed do not exist. */
const fakeSources = (files: Record<string, string>, env: Record<string, string> = {}, ppid = 77): SnapshotSources => ({
  ...liveSnapshotSources,
  readFile: (file) => {
    if (file in files) return files[file]!
    if (file.startsWith("/proc/")) throw Object.assign(new Error(`ENOENT: ${file}`), { code: "ENOENT" })
    return fs.readFileSync(file, "utf8")
  },
  env,
  ppid: () => ppid
})

/** A small logfmt reader: bare values as they are, quoted ones through JSON (the escaping is JSON's). */
const parseLine = (line: string): Map<string, string> => {
  const out = new Map<string, string>()
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|\S+)/g
  let consumed = 0
  for (let m = re.exec(line); m !== null; m = re.exec(line)) {
    expect(line.slice(consumed, m.index).trim()).toBe("")
    out.set(m[1]!, m[2]!.startsWith("\"") ? JSON.parse(m[2]!) as string : m[2]!)
    consumed = m.index + m[0].length
  }
  expect(line.slice(consumed)).toBe("")
  return out
}

describe("takeSnapshot", () => {
  it("records this process, its parent and the load on a live system", () => {
    const snapshot = takeSnapshot({ signal: "SIGTERM", markerPath: markerPath(), self: { pid: process.pid, startTime: "1" } })
    expect(snapshot.signal).toBe("SIGTERM")
    expect(snapshot.pid).toBe(process.pid)
    expect(snapshot.ppid).toBe(process.ppid)
    expect(snapshot.loadavg).toMatch(/^\d+\.\d\d,\d+\.\d\d,\d+\.\d\d$/)
    if (process.platform === "linux") {
      expect(snapshot.parent_name).toBe(fs.readFileSync(`/proc/${process.ppid}/comm`, "utf8").trim())
      expect(snapshot.tracer_pid).toBe(0)
    }
    expect(snapshot.marker_present).toBe(false)
    expect(snapshot.clean_shutdown_present).toBe(false)
    expect(snapshot.took_ms).toBeGreaterThanOrEqual(0)
  })

  it("completes without throwing when every source throws", () => {
    const boom = () => {
      throw new Error("denied")
    }
    const hostile: SnapshotSources = {
      readFile: boom,
      lstat: boom,
      get env(): Record<string, string | undefined> {
        throw new Error("no environment")
      },
      ppid: boom,
      loadavg: boom,
      uptime: boom,
      rss: boom,
      now: boom
    }
    const snapshot = takeSnapshot({ signal: "SIGHUP", markerPath: markerPath(), self }, hostile)
    expect(snapshot).toMatchObject({
      signal: "SIGHUP",
      pid: 4242,
      ppid: null,
      parent_name: null,
      parent_cmdline: null,
      invocation_id: null,
      supervisor: "none",
      loadavg: null,
      tracer_pid: null,
      marker_present: false,
      marker_names_self: false,
      marker_note: "unreadable:error",
      clean_shutdown_present: false,
      uptime_s: null,
      rss_mb: null
    })
    expect(formatSnapshot(snapshot)).toContain("signal=SIGHUP")
  })

  it("completes when /proc is missing altogether", () => {
    const snapshot = takeSnapshot({ signal: "SIGTERM", markerPath: markerPath(), self }, fakeSources({}))
    expect(snapshot.parent_name).toBeNull()
    expect(snapshot.parent_cmdline).toBeNull()
    expect(snapshot.tracer_pid).toBeNull()
    expect(snapshot.ppid).toBe(77)
  })

  it("reads the parent's name, its command line with NULs as spaces (cut), and TracerPid", () => {
    const long = ["/usr/bin/s6-supervise", "x".repeat(300)].join("\0") + "\0"
    const snapshot = takeSnapshot(
      { signal: "SIGTERM", markerPath: markerPath(), self },
      fakeSources({
        "/proc/77/comm": "s6-supervise\n",
        "/proc/77/cmdline": long,
        "/proc/self/status": "Name:\tnode\nState:\tR\nTracerPid:\t1234\nUid:\t0\n"
      })
    )
    expect(snapshot.parent_name).toBe("s6-supervise")
    expect(snapshot.parent_cmdline!.startsWith("/usr/bin/s6-supervise xxx")).toBe(true)
    expect(snapshot.parent_cmdline!.length).toBe(cmdlineLimit + 3)
    expect(snapshot.parent_cmdline).not.toContain("\0")
    expect(snapshot.tracer_pid).toBe(1234)
    expect(snapshot.supervisor).toBe("s6")
    expect(snapshot.supervisor_evidence).toBe("parent:s6-supervise")
  })

  it("records INVOCATION_ID and the environment's supervisor hint, deciding nothing", () => {
    const snapshot = takeSnapshot(
      { signal: "SIGTERM", markerPath: markerPath(), self },
      fakeSources({}, { INVOCATION_ID: "0123abcd", NOTIFY_SOCKET: "/run/systemd/notify" })
    )
    expect(snapshot.invocation_id).toBe("0123abcd")
    expect(snapshot.supervisor).toBe("systemd")
  })

  describe("planned-stop marker", () => {
    const write = (doc: unknown) => fs.writeFileSync(markerPath(), typeof doc === "string" ? doc : JSON.stringify(doc))
    const snap = () => takeSnapshot({ signal: "SIGTERM", markerPath: markerPath(), self })

    it("present and naming this incarnation", () => {
      write({ target_pid: 4242, target_start_time: "987654", action: "stop", stopper_pid: 1, written_at: new Date().toISOString() })
      expect(snap()).toMatchObject({ marker_present: true, marker_names_self: true, marker_note: "action:stop" })
    })
    it("present but naming the same pid with another start time (a recycled pid)", () => {
      write({ target_pid: 4242, target_start_time: "1", action: "stop" })
      expect(snap()).toMatchObject({ marker_present: true, marker_names_self: false, marker_note: "names_pid:4242" })
    })
    it("present but malformed", () => {
      write("{ not json")
      expect(snap()).toMatchObject({ marker_present: true, marker_names_self: false, marker_note: "malformed" })
    })
    it("a symbolic link is reported, not followed", () => {
      const target = path.join(dir, "elsewhere.json")
      fs.writeFileSync(target, JSON.stringify({ target_pid: 4242, target_start_time: "987654", action: "stop" }))
      fs.symlinkSync(target, markerPath())
      expect(snap()).toMatchObject({ marker_present: true, marker_names_self: false, marker_note: "symlink" })
    })
    it("absent, with .clean_shutdown looked for next to it", () => {
      fs.writeFileSync(path.join(dir, ".clean_shutdown"), "{}")
      expect(snap()).toMatchObject({ marker_present: false, marker_names_self: false, marker_note: null, clean_shutdown_present: true })
    })
  })
})

describe("detectSupervisorHint", () => {
  it.each([
    [{ HERMES_SUPERVISOR: "runit", INVOCATION_ID: "x" }, null, "runit", "env:HERMES_SUPERVISOR"],
    [{ INVOCATION_ID: "x" }, null, "systemd", "env:INVOCATION_ID"],
    [{ NOTIFY_SOCKET: "/run/n" }, null, "systemd", "env:NOTIFY_SOCKET"],
    [{ SUPERVISOR_SERVER_URL: "unix:///tmp/s.sock" }, null, "supervisord", "env:SUPERVISOR_SERVER_URL"],
    [{ KUBERNETES_SERVICE_HOST: "10.0.0.1" }, "tini", "kubernetes", "env:KUBERNETES_SERVICE_HOST"],
    [{}, "runsv", "runit", "parent:runsv"],
    [{}, "tini", "tini", "parent:tini"],
    [{}, "dumb-init", "dumb-init", "parent:dumb-init"],
    [{}, "bash", "none", null],
    [{ HERMES_SUPERVISOR: "" }, null, "none", null]
  ] as const)("%j with parent %s -> %s", (env, parent, kind, evidence) => {
    expect(detectSupervisorHint(env, parent)).toEqual({ kind, evidence })
  })

  it("TracerPid is read from its own line only", () => {
    expect(parseTracerPid("TracerPid:\t0\n")).toBe(0)
    expect(parseTracerPid("Name: TracerPid: 5\n")).toBeNull()
    expect(parseTracerPid("")).toBeNull()
  })
})

describe("formatSnapshot", () => {
  it("quotes values with spaces and leaves plain ones bare", () => {
    expect(formatSnapshot({ signal: "SIGTERM", parent_cmdline: "/sbin/init splash", empty: "", none: null })).toBe(
      `signal=SIGTERM parent_cmdline="/sbin/init splash" empty="" none=-`
    )
    expect(formatValue("a\"b=c\\d")).toBe(`"a\\"b=c\\\\d"`)
  })

  const nasty = FastCheck.oneof(
    FastCheck.string({ unit: "binary" }),
    FastCheck.string({ unit: FastCheck.constantFrom("\n", "\r", "\u2028", "\u2029", "\u0085", "\v", "\f", "\u001c", " ", "=", "\"", "\\", "a", "é", "\t") })
  )

  it.prop(
    "is always exactly one line, whatever the values hold, and every value reads back",
    [FastCheck.dictionary(FastCheck.stringMatching(/^[a-z_]{1,12}$/), nasty, { maxKeys: 8 })],
    ([fields]) => {
      const line = formatSnapshot(fields)
      expect(line).not.toMatch(/[\n\r\v\f\u001c-\u001e\u0085\u2028\u2029]/)
      const back = parseLine(line)
      expect(back.size).toBe(Object.keys(fields).length)
      for (const [key, value] of Object.entries(fields)) {
        if (value !== "-") expect(back.get(key)).toBe(value)
      }
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "a snapshot with hostile /proc contents still formats to one line",
    [nasty, nasty, nasty],
    ([comm, cmdline, signal]) => {
      const snapshot: Snapshot = takeSnapshot(
        { signal, markerPath: "/nonexistent/marker", self },
        fakeSources({ "/proc/77/comm": comm, "/proc/77/cmdline": cmdline, "/proc/self/status": comm })
      )
      expect(formatSnapshot(snapshot).split(/\r\n|[\n\r\v\f\u001c-\u001e\u0085\u2028\u2029]/)).toHaveLength(1)
    },
    { fastCheck: { numRuns: 200 } }
  )
})
