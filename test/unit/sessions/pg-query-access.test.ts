// Which PostgreSQL schema versions the CLI may query without a gateway (it never migrates).
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { queryableSchemaProblem } from "../../../src/sessions/postgres/PgQueryAccess.js"

describe("queryableSchemaProblem", () => {
  it.prop("only the version this binary writes is queried; newer is schema_newer, none is missing, older is refused", {
    found: fc.integer({ min: 0, max: 40 }),
    known: fc.integer({ min: 1, max: 40 })
  }, ({ found, known }) => {
    const problem = queryableSchemaProblem("u@h:5432/db", found, known)
    if (found === known) {
      expect(problem).toBe(null)
      return
    }
    expect(problem?.reason).toBe(found > known ? "schema_newer" : found === 0 ? "missing" : "refused")
    expect(problem?.message).toContain("u@h:5432/db")
    if (found > 0 && found < known) expect(problem?.message).toContain(`version ${found}; this gateway reads ${known}`)
  })
})
