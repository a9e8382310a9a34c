// The doctor's reading of a PostgreSQL schema version against the one this binary knows.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { schemaFinding } from "../../../src/cli/DoctorSessions.js"

describe("schemaFinding", () => {
  it.prop("fails exactly when the database's version is newer, and then names both", {
    found: fc.integer({ min: 0, max: 50 }),
    known: fc.integer({ min: 1, max: 50 })
  }, ({ found, known }) => {
    const finding = schemaFinding("u@h:5432/db", found, known)
    expect(finding.verdict).toBe(found > known ? "fail" : "ok")
    if (found > known) expect(finding.detail).toContain(`version ${found}, newer than this gateway knows (${known})`)
    else expect(finding.detail).toContain("u@h:5432/db answered")
  })

  it("says what run will do with an empty or older schema", () => {
    expect(schemaFinding("t", 0, 4).detail).toContain("no session schema yet: `run` creates version 4")
    expect(schemaFinding("t", 2, 4).detail).toContain("version 2: `run` migrates it to 4")
    expect(schemaFinding("t", 4, 4).detail).toContain("version 4 (current)")
  })
})
