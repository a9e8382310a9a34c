// A root stopper's marker must belong to the home's owner (the gateway's user), mode 0600.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { readJsonSync, writeJsonAtomicSync } from "../../../src/home/AtomicFile.js"
import { cannotGiveOwnership, ownershipPlan } from "../../../src/home/HomeOwner.js"
import * as Schema from "effect/Schema"

const home = { uid: 65534, gid: 65534 }
const isRoot = typeof process.geteuid === "function" && process.geteuid() === 0

describe("ownership of files written into a home", () => {
  it("the home's owner writes as itself; root hands the file over; anyone else cannot", () => {
    expect(ownershipPlan({ writerUid: 65534, home })).toEqual({ _tag: "AsCreated" })
    expect(ownershipPlan({ writerUid: 0, home })).toEqual({ _tag: "GiveTo", owner: home })
    expect(ownershipPlan({ writerUid: 1000, home })).toEqual({ _tag: "Impossible" })
    expect(ownershipPlan({ writerUid: undefined, home })).toEqual({ _tag: "AsCreated" })
    // root's own home: root writes as itself
    expect(ownershipPlan({ writerUid: 0, home: { uid: 0, gid: 0 } })).toEqual({ _tag: "AsCreated" })
  })
  it.prop("a file is never left with an owner the gateway cannot read as", {
    writer: fc.integer({ min: 0, max: 70_000 }),
    owner: fc.integer({ min: 0, max: 70_000 })
  }, ({ owner, writer }) => {
    const plan = ownershipPlan({ writerUid: writer, home: { uid: owner, gid: owner } })
    const endsOwnedBy = plan._tag === "AsCreated" ? writer : plan._tag === "GiveTo" ? plan.owner.uid : undefined
    expect(endsOwnedBy === undefined || endsOwnedBy === owner).toBe(true)
    expect(plan._tag === "Impossible").toBe(writer !== owner && writer !== 0)
  })
  it("the refusal names the home, both uids and what to do", () => {
    const line = cannotGiveOwnership("the planned-stop marker", "/srv/hermes", { writerUid: 1000, home })
    expect(line).toMatch(/cannot write the planned-stop marker so that the gateway can read it: \/srv\/hermes belongs to uid 65534/)
    expect(line).toMatch(/runs as uid 1000/)
    expect(line).toMatch(/run it as uid 65534 or as root$/)
    expect(line).not.toContain("\n")
  })
  it.skipIf(!isRoot)("as root, an atomic write with an owner leaves the file owned by it, mode 0600, no temp file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-owner-"))
    try {
      const file = path.join(dir, "x.json")
      writeJsonAtomicSync(file, { a: 1 }, home)
      const stat = fs.statSync(file)
      expect({ uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o7777 }).toEqual({ ...home, mode: 0o600 })
      expect(fs.readdirSync(dir)).toEqual(["x.json"])
      expect(readJsonSync(file, Schema.Struct({ a: Schema.Number }))._tag).toBe("Valid")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
