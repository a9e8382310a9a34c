// logs/lifecycle.jsonl is written by encoding the record Schemas and read back through the same
// Schemas: any record the kernel can build survives the trip through the file unchanged.
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary } from "effect"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { LifecycleRecord, lifecycleLine, ReportedRecord, type ShutdownRecord } from "../../../src/forensics/LifecycleRecord.js"
import { parseLifecycleLine, readLifecycleLog } from "../../../src/forensics/ShutdownReport.js"
import { explainClassification } from "../../../src/forensics/ShutdownReportText.js"
import { homePaths } from "../../../src/home/HomePaths.js"
import { liveHomeStore } from "../../../src/home/HomeStore.js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

const decodeLine = Schema.decodeUnknownSync(Schema.parseJson(LifecycleRecord))
const isReported = Schema.is(ReportedRecord)

describe("lifecycle records", () => {
  it.prop("encode then decode gives the record back", [Arbitrary.make(LifecycleRecord)], ([record]) => {
    const line = lifecycleLine(record)
    expect(line.endsWith("\n")).toBe(true)
    expect(line.slice(0, -1)).not.toContain("\n")
    // JSON has one zero: -0 comes back as 0, which is the same number to every reader.
    expect(decodeLine(line)).toEqual(JSON.parse(JSON.stringify(record)))
    if (isReported(record)) {
      const read = parseLifecycleLine(line.slice(0, -1))
      expect(read).toEqual({ _tag: "Record", record: JSON.parse(JSON.stringify(record)) })
    }
  }, { fastCheck: { numRuns: 200 } })

  it("fields the Schema does not define are not written", () => {
    const record = { event: "start", at: "2026-12-05T00:00:00.000Z", pid: 7, secret: "no" } as LifecycleRecord
    expect(JSON.parse(lifecycleLine(record))).toEqual({ event: "start", at: "2026-12-05T00:00:00.000Z", pid: 7 })
  })

  it("the live home appends the encoded record, and report reads it back", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-records-"))
    try {
      fs.chmodSync(dir, 0o700)
      const paths = homePaths(dir)
      const record: ShutdownRecord = {
        event: "shutdown",
        classification: "planned",
        signal: "SIGTERM",
        exit_code: 0,
        took_ms: 12,
        turns_drained: 1,
        turns_interrupted: 0,
        deadline_fired: null,
        at: "2026-12-05T00:00:00.000Z",
        pid: 42,
        exit_reason: "planned stop (SIGTERM)",
        marker: "names self, action stop",
        phases: [{ name: "stop_intake", started_at_ms: 0, took_ms: 1, outcome: "ok" }]
      }
      Effect.runSync(liveHomeStore(paths).appendLifecycle(record))
      const reading = readLifecycleLog(paths.lifecycleLog)
      expect(reading.skipped).toBe(0)
      expect(reading.records).toEqual([record])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a state the file cannot carry is a typed write error, not a defect", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-records-"))
    try {
      const store = liveHomeStore(homePaths(dir))
      const exit = Effect.runSyncExit(Effect.either(store.writeState({
        gateway_state: "stopped",
        updated_at: "2026-12-05T00:00:00.000Z",
        shutdown: {
          classification: "planned", signal: null, exit_code: 0, took_ms: Number.NaN,
          turns_drained: 0, turns_interrupted: 0, deadline_fired: null, at: "2026-12-05T00:00:00.000Z"
        }
      } as never)))
      expect(Exit.isSuccess(exit)).toBe(true)
      if (Exit.isSuccess(exit)) expect(exit.value).toMatchObject({ _tag: "Left", left: { _tag: "FileWriteError" } })
      expect(fs.existsSync(homePaths(dir).state)).toBe(false)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("the marker verdict is read from its own field, not parsed out of exit_reason", () => {
    const base = Schema.decodeUnknownSync(ReportedRecord)({
      event: "shutdown", classification: "unplanned", signal: "SIGTERM", exit_code: 1, took_ms: 1,
      turns_drained: 0, turns_interrupted: 0, deadline_fired: null, at: "2026-12-05T00:00:00.000Z",
      exit_reason: "unplanned stop (SIGTERM)", marker: "absent"
    }) as ShutdownRecord
    expect(explainClassification(base)).toContain("(planned-stop marker: absent)")
  })

  it("a number JSON cannot carry fails the write instead of leaving an unreadable line", () => {
    const record = { event: "start", at: "2026-12-05T00:00:00.000Z", pid: Number.NaN } as LifecycleRecord
    expect(() => lifecycleLine(record)).toThrow(/pid/)
  })
})
