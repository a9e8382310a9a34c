// Time is read through Clock (so TestClock drives every deadline) in the CLI verbs, the home and the
// home check. Start-up identity code (ProcessIdentity.ts) reads the wall clock before any runtime exists.
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const src = fileURLToPath(new URL("../../../src", import.meta.url))
const exempt = new Set([path.join("home", "ProcessIdentity.ts")])

const sources = [
  ...["cli", "home"].flatMap((dir) =>
    fs.readdirSync(path.join(src, dir)).filter((name) => name.endsWith(".ts")).map((name) => path.join(dir, name))
  ),
  path.join("forensics", "HomeCheck.ts")
].filter((file) => !exempt.has(file))

describe("time through Clock", () => {
  it.each(sources)("%s reads no wall clock of its own", (file) => {
    const text = fs.readFileSync(path.join(src, file), "utf8")
    expect(text).not.toMatch(/\bDate\.now\b|new Date\(\s*\)|performance\.now/)
  })
})
