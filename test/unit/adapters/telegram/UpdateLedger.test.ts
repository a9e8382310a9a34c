import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { loadUpdateLedger } from "../../../../src/adapters/telegram/UpdateLedger.js"

const tempFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hermes-ledger-")), "telegram_offset.json")

describe("UpdateLedger", () => {
  it.effect("acknowledges the handled prefix; later handled ids are remembered above it", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const { ledger, warning } = yield* loadUpdateLedger(file)
      expect(warning).toBeUndefined()
      expect(ledger.offset()).toBe(1)
      for (const id of [10, 11, 12]) ledger.dispatched(id)
      ledger.handled(12)
      expect(ledger.offset()).toBe(10)
      expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ acknowledged: 9, handled_above: [12] })
      ledger.handled(10)
      expect(ledger.offset()).toBe(11)
      ledger.handled(11)
      expect(ledger.offset()).toBe(13)
      expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ acknowledged: 12, handled_above: [] })
      expect(ledger.isNew(12)).toBe(false)
      expect(ledger.isNew(13)).toBe(true)
    }))

  it.effect("a new life skips what the file says was handled", () =>
    Effect.gen(function*() {
      const file = tempFile()
      fs.writeFileSync(file, JSON.stringify({ acknowledged: 20, handled_above: [23, 19] }))
      const { ledger } = yield* loadUpdateLedger(file)
      expect(ledger.offset()).toBe(21)
      expect([20, 21, 22, 23, 24].map(ledger.isNew)).toEqual([false, true, true, false, true])
    }))

  it.effect("an unreadable file is ignored with a warning", () =>
    Effect.gen(function*() {
      const file = tempFile()
      fs.writeFileSync(file, "{ not json")
      const { ledger, warning } = yield* loadUpdateLedger(file)
      expect(warning).toContain("not valid JSON")
      expect(ledger.offset()).toBe(1)
    }))
})
