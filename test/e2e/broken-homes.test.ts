// End-to-end: homes that cannot work (issue "Hostile input", item 12; CONTRACT 1, 3.1). Every verb,
// given a home under a regular file, under a missing parent, behind a directory it may not search,
// or that is itself a regular file, exits 78 with one line on stderr: never "internal error" (70)
// with a stack trace, never a hang, and nothing is created on the way.
import { execFile, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, it } from "vitest"
import { assertBuilt, hermesJs } from "./harness.js"
import { makeReadableInstall, type ReadableInstall } from "./ReadableInstall.js"

beforeAll(assertBuilt)

const isRoot = typeof process.getuid === "function" && process.getuid() === 0
const nobody = 65534

/** Root runs the unprivileged case as nobody, from a copy nobody can read (ReadableInstall.ts). */
const nobodyProblem = isRoot && spawnSync("setpriv", [`--reuid=${nobody}`, `--regid=${nobody}`, "--clear-groups", "true"]).status !== 0
  ? "setpriv cannot run a command as user nobody"
  : undefined
let nobodys: ReadableInstall
beforeAll(() => void (nobodys = makeReadableInstall()))
afterAll(() => nobodys?.remove())

const verbs: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["run", ["run"]],
  ["stop", ["stop"]],
  ["restart", ["restart"]],
  ["status", ["status"]],
  ["doctor", ["doctor"]],
  ["boot", ["boot"]],
  ["sessions", ["sessions"]],
  ["report", ["report"]],
  ["install", ["install", "--manager", "systemd", "--print"]]
]

interface Outcome {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Our own environment without HERMES_* (a stray HERMES_HOME must not change the home under test). */
const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("HERMES_") && key !== "NODE_OPTIONS")),
  ...extra
})

/** `hermes gateway ARGS`, as another user when `asUid` is given (setpriv); SIGKILLed after 30 s. */
const hermes = (args: ReadonlyArray<string>, options: { asUid?: number; env?: Record<string, string> } = {}) =>
  new Promise<Outcome>((resolve) => {
    const command = [process.execPath, options.asUid === undefined ? hermesJs : nobodys.hermesJs, "gateway", ...args]
    const [file, ...rest] = options.asUid === undefined
      ? command
      : ["setpriv", `--reuid=${options.asUid}`, `--regid=${options.asUid}`, "--clear-groups", ...command]
    execFile(file!, rest, { env: cleanEnv(options.env ?? {}), timeout: 30_000, killSignal: "SIGKILL" }, (error, stdout, stderr) => {
      const failure = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null
      resolve({
        code: failure === null ? 0 : typeof failure.code === "number" ? failure.code : null,
        signal: failure?.signal ?? null,
        stdout,
        stderr
      })
    })
  })

/** A fresh directory for one test (0755, so nobody can reach inside), removed whatever happens. */
const withBase = async (body: (base: string) => Promise<void>): Promise<void> => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-broken-home-"))
  fs.chmodSync(base, 0o755)
  try {
    await body(base)
  } finally {
    // An unsearchable directory must be searchable again for the removal to see inside it.
    for (const entry of fs.readdirSync(base)) fs.chmodSync(path.join(base, entry), 0o755)
    fs.rmSync(base, { recursive: true, force: true })
  }
}

interface BrokenHome {
  readonly name: string
  /** Creates the broken layout under `base`; returns the home path and what must still not exist after. */
  readonly make: (base: string) => { readonly home: string; readonly absent?: string }
  /** Mentioned in the one line. */
  readonly mention: (base: string) => string
  /** Only an unprivileged user is refused (root searches any directory): run as nobody when root. */
  readonly unprivileged?: boolean
}

const brokenHomes: ReadonlyArray<BrokenHome> = [
  {
    name: "a path under a regular file",
    make: (dir) => {
      fs.writeFileSync(path.join(dir, "plain-file"), "not a directory\n")
      return { home: path.join(dir, "plain-file", "home") }
    },
    mention: (dir) => `${path.join(dir, "plain-file")} is not a directory`
  },
  {
    name: "a missing parent",
    make: (dir) => ({ home: path.join(dir, "no-such-parent", "home"), absent: path.join(dir, "no-such-parent") }),
    mention: (dir) => `its parent directory ${path.join(dir, "no-such-parent")} does not exist`
  },
  {
    name: "the home is a regular file",
    make: (dir) => {
      fs.writeFileSync(path.join(dir, "home"), "not a directory\n")
      return { home: path.join(dir, "home") }
    },
    mention: (dir) => `home ${path.join(dir, "home")} is not a directory`
  },
  {
    name: "a parent that may not be searched",
    make: (dir) => {
      fs.mkdirSync(path.join(dir, "locked", "inner"), { recursive: true })
      fs.chmodSync(path.join(dir, "locked"), 0o000)
      return { home: path.join(dir, "locked", "inner", "home") }
    },
    mention: (dir) => `may not search ${path.join(dir, "locked")}`,
    unprivileged: true
  }
]

describe.concurrent("homes that cannot work", () => {
  for (const broken of brokenHomes) {
    // Root searches every directory: as root, the unsearchable parent is tried as user nobody.
    const skip = broken.unprivileged === true && nobodyProblem !== undefined
    const title = `${broken.name}: every verb exits 78 with one line and no stack trace${skip ? ` [SKIPPED: ${nobodyProblem}]` : ""}`
    it.skipIf(skip)(title, (ctx) =>
      withBase(async (base) => {
        const { expect } = ctx
        const { absent, home } = broken.make(base)
        const asUid = broken.unprivileged === true && isRoot ? nobody : undefined
        for (const [verb, args] of verbs) {
          const outcome = await hermes([...args, "--home", home], asUid === undefined ? {} : { asUid })
          const context = `${verb}: ${JSON.stringify(outcome)}`
          expect(outcome.code, context).toBe(78)
          const lines = outcome.stderr.trimEnd().split("\n")
          expect(lines, context).toHaveLength(1)
          expect(lines[0], context).toContain(broken.mention(base))
          expect(outcome.stderr, context).not.toMatch(/internal error|^\s+at |Error:/m)
          expect(outcome.stdout, context).toBe("")
        }
        if (absent !== undefined) expect(fs.existsSync(absent)).toBe(false)
      }), 180_000)
  }

  it("HERMES_HOME naming such a home is refused the same way as --home", (ctx) =>
    withBase(async (base) => {
      const { expect } = ctx
      const { home } = brokenHomes[0]!.make(base)
      const outcome = await hermes(["status"], { env: { HERMES_HOME: home } })
      expect(outcome.code, JSON.stringify(outcome)).toBe(78)
      expect(outcome.stderr.trimEnd().split("\n")).toHaveLength(1)
      expect(outcome.stderr).toContain(brokenHomes[0]!.mention(base))
    }))
})
