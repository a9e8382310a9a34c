// End-to-end: the gateway never writes through a symbolic link planted in its home (Security issue,
// item 3). Each case plants a link to a file (or a directory) outside the home, runs the built CLI,
// and checks the exit code, a message naming the file, and that the target is untouched (content
// and mode). Also: a 0644 state.db becomes 0600 with a log line, and `doctor` reports wrong modes,
// links and foreign owners (the owner case chowns to nobody, 65534, and needs root).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { ExpectStatic, TestContext } from "vitest"
import { beforeAll, describe, it } from "vitest"
import { FakeTelegram } from "./fakes/FakeTelegram.js"
import { assertBuilt, chat, type Home, Sandbox, telegramConfig, telegramEnv, waitFor } from "./harness.js"

beforeAll(assertBuilt)

const isRoot = typeof process.getuid === "function" && process.getuid() === 0

/** A directory outside the home, removed when the test ends, with a 0644 file the links point at. */
const outsideOf = (ctx: TestContext) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-outside-"))
  ctx.onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, "victim.txt")
  fs.writeFileSync(file, "belongs to someone else\n")
  fs.chmodSync(file, 0o644)
  return {
    dir,
    file,
    expectUntouched: (expect: ExpectStatic) => {
      expect(fs.readFileSync(file, "utf8"), "the link's target keeps its content").toBe("belongs to someone else\n")
      expect(fs.statSync(file).mode & 0o777, "and its mode").toBe(0o644)
      expect(fs.readdirSync(dir), "nothing else appears beside it").toEqual(["victim.txt"])
    }
  }
}

/** A home that has run once (so state.db, logs/ and the JSON files exist), stopped planned. */
const usedHome = async (ctx: TestContext, sb: Sandbox): Promise<Home> => {
  const home = sb.home()
  const gw = sb.run(home, {}, "first life")
  const port = await gw.waitRunning()
  ctx.expect((await chat(port, "remember me")).status).toBe(200)
  const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
  ctx.expect(stop.code, stop.stderr).toBe(0)
  ctx.expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
  return home
}

const plantedFiles = ["state.db", "state.db-wal", "state.db-delivered", "logs/lifecycle.jsonl", "logs/shutdown-diag.log"] as const

describe.concurrent("links planted in the home before `gateway run`", () => {
  for (const name of plantedFiles) {
    it(`${name} -> a file outside: run exits 78 naming it; the target is untouched`, async (ctx) => {
      const { expect } = ctx
      const sb = new Sandbox(ctx)
      const home = await usedHome(ctx, sb)
      const outside = outsideOf(ctx)
      const planted = path.join(home.dir, name)
      fs.rmSync(planted, { force: true })
      fs.symlinkSync(outside.file, planted)
      const lifecycleBefore = name === "logs/lifecycle.jsonl" ? undefined : fs.readFileSync(home.lifecycleLog, "utf8")

      const gw = sb.run(home, {}, "gateway over a planted link")
      expect(await gw.waitExit(), gw.describe()).toEqual({ code: 78, signal: null })
      expect(gw.stderr).toContain(`${planted} is a symbolic link (-> ${outside.file})`)
      expect(gw.stderr).not.toMatch(/internal error/)
      outside.expectUntouched(expect)
      expect(fs.lstatSync(planted).isSymbolicLink(), "the link is left for the operator to look at").toBe(true)
      if (lifecycleBefore !== undefined) expect(fs.readFileSync(home.lifecycleLog, "utf8"), "refused before any write").toBe(lifecycleBefore)
    })
  }

  it("logs -> another directory: run exits 78 naming it; nothing is written there", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = await usedHome(ctx, sb)
    const outside = outsideOf(ctx)
    fs.rmSync(path.join(home.dir, "logs"), { recursive: true })
    fs.symlinkSync(outside.dir, path.join(home.dir, "logs"))
    const gw = sb.run(home)
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 78, signal: null })
    expect(gw.stderr).toContain(`${path.join(home.dir, "logs")} is a symbolic link (-> ${outside.dir})`)
    outside.expectUntouched(expect)
  })

  it("state.db -> a file outside on a fresh home: run exits 78 and the database is not written there", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const outside = outsideOf(ctx)
    fs.symlinkSync(outside.file, path.join(home.dir, "state.db"))
    const gw = sb.run(home)
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 78, signal: null })
    expect(gw.stderr).toContain(`${path.join(home.dir, "state.db")} is a symbolic link`)
    outside.expectUntouched(expect)
  })
})

describe.concurrent("links planted while no gateway runs, met by the CLI", () => {
  for (const name of ["state.db", "state.db-wal", "state.db-delivered"] as const) {
    it(`gateway sessions with ${name} -> a file outside exits 78 naming it; the target is untouched`, async (ctx) => {
      const { expect } = ctx
      const sb = new Sandbox(ctx)
      const home = await usedHome(ctx, sb)
      const outside = outsideOf(ctx)
      const planted = path.join(home.dir, name)
      fs.rmSync(planted, { force: true })
      fs.symlinkSync(outside.file, planted)
      const sessions = await sb.cli(["gateway", "sessions", "--home", home.dir])
      expect(sessions.code, `${sessions.stdout}${sessions.stderr}`).toBe(78)
      expect(sessions.stderr).toContain(`${planted} is a symbolic link (-> ${outside.file})`)
      expect(sessions.stderr).not.toMatch(/internal error/)
      outside.expectUntouched(expect)
    })
  }
})

describe.concurrent("links planted while the gateway runs", () => {
  it("logs/lifecycle.jsonl swapped for a link: the shutdown record is not written through it; stop still exits 0", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const outside = outsideOf(ctx)
    const gw = sb.run(home)
    await gw.waitRunning()
    fs.rmSync(home.lifecycleLog)
    fs.symlinkSync(outside.file, home.lifecycleLog)
    const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
    expect(stop.code, stop.stderr).toBe(0)
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
    expect(gw.stderr).toContain(`${home.lifecycleLog} is a symbolic link`)
    outside.expectUntouched(expect)
  })
})

describe.concurrent("telegram_offset.json", () => {
  it("a link there is read as absent (logged), replaced by the gateway's own file, and its target is untouched", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const tg = await FakeTelegram.start(ctx)
    const home = sb.home(telegramConfig({ botApi: tg }))
    const outside = outsideOf(ctx)
    const ledger = path.join(home.dir, "telegram_offset.json")
    fs.symlinkSync(outside.file, ledger)
    const gw = sb.run(home, telegramEnv(tg.token))
    await gw.waitRunning()
    expect(gw.stderr).toContain(`${ledger} is a symbolic link; refusing to follow it`)
    tg.push({ chatId: 7, text: "hello" })
    // Handling the update persists the ledger: by rename, which replaces the link itself.
    await waitFor("the ledger written as a regular file", () => {
      const stat = fs.lstatSync(ledger)
      return stat.isFile() && (stat.mode & 0o777) === 0o600
    }, { timeoutMs: 15_000, context: () => gw.describe() })
    gw.signal("SIGINT")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
    outside.expectUntouched(expect)
  })
})

describe.concurrent("modes of the home's files", () => {
  it("a 0644 state.db (and delivery log) becomes 0600 at start-up, logged with the old mode; the WAL is 0600 too", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = await usedHome(ctx, sb)
    const db = path.join(home.dir, "state.db")
    fs.chmodSync(db, 0o644)
    fs.writeFileSync(`${db}-delivered`, "")
    fs.chmodSync(`${db}-delivered`, 0o644)
    const gw = sb.run(home, {}, "gateway on a loose home")
    const port = await gw.waitRunning()
    expect((await chat(port, "again")).status).toBe(200)
    expect(gw.stderr).toContain(`tightened ${db} from mode 0644 to 0600`)
    expect(gw.stderr).toContain(`tightened ${db}-delivered from mode 0644 to 0600`)
    expect(fs.statSync(db).mode & 0o777).toBe(0o600)
    expect(fs.statSync(`${db}-delivered`).mode & 0o777).toBe(0o600)
    if (fs.existsSync(`${db}-wal`)) expect(fs.statSync(`${db}-wal`).mode & 0o777, "SQLite's own files are private").toBe(0o600)
    gw.signal("SIGINT")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
    for (const name of fs.readdirSync(home.dir)) {
      if (name === "config.yaml") continue
      const stat = fs.lstatSync(path.join(home.dir, name))
      expect(stat.mode & 0o077, `${name} is private`).toBe(0)
    }
  })
})

describe.concurrent("doctor", () => {
  it("reports a wrong mode and a link, one line each naming the file, and exits 1", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = await usedHome(ctx, sb)
    const outside = outsideOf(ctx)
    const good = await sb.cli(["gateway", "doctor", "--home", home.dir])
    expect(good.code, `${good.stdout}${good.stderr}`).toBe(0)
    expect(good.stdout).toMatch(/ok\s+files\s/)

    fs.chmodSync(path.join(home.dir, "state.db"), 0o644)
    fs.chmodSync(path.join(home.dir, "logs"), 0o755)
    fs.rmSync(path.join(home.dir, "logs", "lifecycle.jsonl"))
    fs.symlinkSync(outside.file, path.join(home.dir, "logs", "lifecycle.jsonl"))
    const bad = await sb.cli(["gateway", "doctor", "--home", home.dir])
    expect(bad.code, `${bad.stdout}${bad.stderr}`).toBe(1)
    const lines = bad.stdout.split("\n").filter((line) => /^FAIL\s+files\s/.test(line))
    expect(lines, bad.stdout).toHaveLength(3)
    expect(bad.stdout).toContain(`${path.join(home.dir, "state.db")} has mode 0644`)
    expect(bad.stdout).toContain(`${path.join(home.dir, "logs")} has mode 0755`)
    expect(bad.stdout).toContain(`${path.join(home.dir, "logs", "lifecycle.jsonl")} is a symbolic link (-> ${outside.file})`)
    expect(fs.statSync(path.join(home.dir, "state.db")).mode & 0o777, "doctor changes nothing").toBe(0o644)
    outside.expectUntouched(expect)
  })

  it.skipIf(!isRoot)("reports a file owned by another user (needs root to chown)", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = await usedHome(ctx, sb)
    fs.chownSync(path.join(home.dir, "state.db"), 65534, 65534)
    const doctor = await sb.cli(["gateway", "doctor", "--home", home.dir])
    expect(doctor.code, doctor.stdout).toBe(1)
    expect(doctor.stdout).toContain(`${path.join(home.dir, "state.db")} is owned by uid 65534, not by the home's owner (uid 0)`)
    // And the gateway refuses to open it rather than tightening or taking it over.
    const gw = sb.run(home)
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 78, signal: null })
    expect(gw.stderr).toContain(`${path.join(home.dir, "state.db")} is owned by uid 65534`)
    expect(fs.statSync(path.join(home.dir, "state.db")).uid).toBe(65534)
  })
})
