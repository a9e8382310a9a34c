// The s6/runit run script loads the home's gateway.env (secrets as KEY=value lines) before it execs
// node: exported with set -a, its own HERMES_ variables winning, and only when the service's user
// owns the file, since sourcing it runs it as shell code. Real sh, a recording stand-in for node.
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type { DefinitionFile, DefinitionInput, Manager } from "../../../src/supervision/Definition.js"
import { renderers } from "../../../src/supervision/Renderers.js"
import { goldenInput, hostileName, scratchDir } from "./fixtures.js"

const render = (manager: Manager, input: DefinitionInput) => renderers[manager](input)

const writeFiles = (dir: string, files: ReadonlyArray<DefinitionFile>) => {
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(dir, file.path)), { recursive: true })
    fs.writeFileSync(path.join(dir, file.path), file.content, { mode: file.mode })
  }
}

describe("service directories (s6, runit): secrets from gateway.env", () => {
  for (const manager of ["s6", "runit"] as const) {
    it(`${manager}: run exports the home's gateway.env when present, and its own HERMES_ variables win`, () => {
      const dir = scratchDir(manager)
      try {
        const home = path.join(dir, hostileName, "home")
        fs.mkdirSync(home, { recursive: true, mode: 0o700 })
        fs.writeFileSync(path.join(home, "gateway.env"), "TELEGRAM_BOT_TOKEN='123:a b$c'\nHERMES_SUPERVISOR=none\n", { mode: 0o600 })
        const bin = path.join(dir, "bin")
        fs.mkdirSync(bin)
        const node = path.join(bin, "node")
        fs.writeFileSync(node, "#!/bin/sh\nprintf 'TOKEN=%s\\nSUP=%s\\n' \"$TELEGRAM_BOT_TOKEN\" \"$HERMES_SUPERVISOR\" > \"$RECORD\"\n", { mode: 0o755 })
        const service = path.join(dir, "service")
        writeFiles(service, render(manager, { ...goldenInput(manager), nodePath: node, home }))
        const record = path.join(dir, "record")
        const child = spawnSync("./run", [], { cwd: service, env: { PATH: process.env.PATH, RECORD: record }, encoding: "utf8" })
        expect(child.status, child.stderr).toBe(0)
        expect(fs.readFileSync(record, "utf8")).toBe(`TOKEN=123:a b$c\nSUP=${manager}\n`)
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })

    it.skipIf(process.getuid?.() !== 0)(`${manager}: run does not source a gateway.env another user owns (needs root)`, () => {
      const dir = scratchDir(manager)
      try {
        const home = path.join(dir, "home")
        fs.mkdirSync(home, { mode: 0o700 })
        const envFile = path.join(home, "gateway.env")
        fs.writeFileSync(envFile, "TELEGRAM_BOT_TOKEN=planted\n", { mode: 0o600 })
        fs.chownSync(envFile, 65534, 65534)
        const bin = path.join(dir, "bin")
        fs.mkdirSync(bin)
        const node = path.join(bin, "node")
        fs.writeFileSync(node, "#!/bin/sh\nprintf 'TOKEN=%s\\n' \"$TELEGRAM_BOT_TOKEN\" > \"$RECORD\"\n", { mode: 0o755 })
        const service = path.join(dir, "service")
        writeFiles(service, render(manager, { ...goldenInput(manager), nodePath: node, home }))
        const record = path.join(dir, "record")
        const child = spawnSync("./run", [], { cwd: service, env: { PATH: process.env.PATH, RECORD: record }, encoding: "utf8" })
        expect(child.status).toBe(0)
        expect(fs.readFileSync(record, "utf8")).toBe("TOKEN=\n")
        expect(child.stdout + child.stderr).toContain(`${envFile} is not owned by the user running this service; not loaded`)
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  }
})
