// What every supervisor harness shares: process identity read from /proc (pid + start time, as the
// gateway itself identifies processes), commands run to completion with a bound, and a per-test
// scratch directory whose teardown stops everything the test started, in reverse order, even when
// the test failed. Nothing here signals a process that this test did not start.
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { TestContext } from "vitest"
import { type Home, hermesJs, homeAt, sleep, waitFor } from "../harness.js"

export { type Home, hermesJs, sleep, waitFor }

// ---------------------------------------------------------------------------------------------
// Binaries

const searchPath = (): Array<string> =>
  [...(process.env.PATH ?? "").split(":"), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    .filter((dir) => dir !== "")

/** Absolute path of an executable on PATH (or the sbin directories), if any. */
export const which = (name: string): string | undefined => {
  if (name.startsWith("/")) return isExecutable(name) ? name : undefined
  for (const dir of searchPath()) {
    const candidate = path.join(dir, name)
    if (isExecutable(candidate)) return candidate
  }
  return undefined
}

const isExecutable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

/** Why a supervisor cannot run here (missing binaries, not root, no /proc), or undefined. */
export const unavailable = (binaries: ReadonlyArray<string>, needsRoot = true): string | undefined => {
  if (process.platform !== "linux") return `needs Linux (this is ${process.platform})`
  if (needsRoot && process.getuid?.() !== 0) return "needs root (namespaces, cgroups or a private supervisor instance)"
  const missing = binaries.filter((binary) => which(binary) === undefined)
  return missing.length > 0
    ? `not installed: ${missing.join(", ")} (CI installs them with .ci/install-supervisors)`
    : undefined
}

// ---------------------------------------------------------------------------------------------
// Process identity

/** One process incarnation: a pid alone never identifies a process (CONTRACT 1). */
export interface Incarnation {
  readonly pid: number
  readonly startTime: string
}

interface ProcStat {
  readonly ppid: number
  readonly state: string
  readonly startTime: string
}

const readStat = (pid: number): ProcStat | undefined => {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name may contain spaces and parentheses: fields start after the last ")".
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
    return { state: fields[0]!, ppid: Number(fields[1]), startTime: fields[19]! }
  } catch {
    return undefined
  }
}

/** The incarnation now running under `pid` (zombies count as gone). */
export const incarnationOf = (pid: number): Incarnation | undefined => {
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  const stat = readStat(pid)
  return stat === undefined || stat.state === "Z" || stat.state === "X" ? undefined : { pid, startTime: stat.startTime }
}

export const isAlive = (incarnation: Incarnation): boolean =>
  incarnationOf(incarnation.pid)?.startTime === incarnation.startTime

export const sameIncarnation = (a: Incarnation | undefined, b: Incarnation | undefined): boolean =>
  a !== undefined && b !== undefined && a.pid === b.pid && a.startTime === b.startTime

/** Signals the incarnation only if the pid still names it; says whether it did. */
export const signalIncarnation = (incarnation: Incarnation, signal: NodeJS.Signals): boolean => {
  if (!isAlive(incarnation)) return false
  try {
    process.kill(incarnation.pid, signal)
    return true
  } catch {
    return false
  }
}

/** Every living descendant of `pid` (children first found, grandchildren after), from /proc. */
export const descendantsOf = (pid: number): Array<Incarnation> => {
  const children = new Map<number, Array<Incarnation>>()
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const stat = readStat(Number(entry))
    if (stat === undefined || stat.state === "Z") continue
    const list = children.get(stat.ppid) ?? []
    list.push({ pid: Number(entry), startTime: stat.startTime })
    children.set(stat.ppid, list)
  }
  const found: Array<Incarnation> = []
  const queue = [pid]
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child)
      queue.push(child.pid)
    }
  }
  return found
}

/** The living direct children of `pid`. */
export const childrenOf = (pid: number): Array<Incarnation> =>
  fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).flatMap((entry) => {
    const stat = readStat(Number(entry))
    return stat !== undefined && stat.ppid === pid && stat.state !== "Z" ? [{ pid: Number(entry), startTime: stat.startTime }] : []
  })

/** A process's command line, words split. */
export const commandLineOf = (pid: number): Array<string> => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((w) => w !== "")
  } catch {
    return []
  }
}

/** The pid a process has inside its own (innermost) pid namespace: the last field of NSpid. */
export const namespacePidOf = (pid: number): number | undefined => {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("NSpid:"))
    const fields = line?.split(/\s+/).slice(1).filter((f) => f !== "") ?? []
    return fields.length > 0 ? Number(fields.at(-1)) : undefined
  } catch {
    return undefined
  }
}

/**
 * Stops a process tree that this test started: freezes the root and then every descendant until no
 * new one appears (a frozen supervisor cannot restart anything), then SIGKILLs them all, identity
 * re-checked each time, and waits until they are gone. Used at teardown, when nothing about the
 * tree's state matters any more.
 */
export const killTree = async (root: Incarnation): Promise<void> => {
  if (!signalIncarnation(root, "SIGSTOP")) return
  const frozen = new Map<string, Incarnation>()
  for (let round = 0; round < 20; round++) {
    const fresh = descendantsOf(root.pid).filter((p) => !frozen.has(`${p.pid}/${p.startTime}`))
    if (fresh.length === 0) break
    for (const p of fresh) {
      signalIncarnation(p, "SIGSTOP")
      frozen.set(`${p.pid}/${p.startTime}`, p)
    }
  }
  for (const p of frozen.values()) signalIncarnation(p, "SIGKILL")
  signalIncarnation(root, "SIGKILL")
  // A SIGKILLed process takes a moment to be gone, and the root may be reaped before its children.
  const all = [root, ...frozen.values()]
  await waitFor("the killed process tree gone", () => all.every((p) => !isAlive(p)), { timeoutMs: 5_000, intervalMs: 10 })
}

// ---------------------------------------------------------------------------------------------
// Commands

export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment of everything this suite starts: ours, minus HERMES_* and supervisor hints. */
export const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  const inherited = /^(HERMES_|NOTIFY_SOCKET$|INVOCATION_ID$|WATCHDOG_|SUPERVISOR_|LISTEN_|NODE_OPTIONS$|VITEST|DBUS_SESSION_BUS_ADDRESS$)/
  for (const [key, value] of Object.entries(process.env)) if (!inherited.test(key)) env[key] = value
  return { ...env, ...extra }
}

/** Runs a command to completion (SIGKILLed after `timeoutMs`); never throws on a non-zero exit. */
export const run = (
  file: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number; readonly cwd?: string } = {}
): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: options.env ?? cleanEnv(),
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {})
    })
    let stdout = ""
    let stderr = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timeoutMs = options.timeoutMs ?? 30_000
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${file} ${args.join(" ")} did not finish within ${timeoutMs}ms\nstdout:\n${stdout}\nstderr:\n${stderr}`))
    }, timeoutMs)
    child.once("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })

/** Like run, but fails with the command's output unless it exits 0. */
export const runOk = async (
  file: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number; readonly cwd?: string } = {}
): Promise<RunResult> => {
  const result = await run(file, args, options)
  if (result.code !== 0) {
    throw new Error(
      `${file} ${args.join(" ")} exited ${result.code ?? result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`
    )
  }
  return result
}

/** `node dist/hermes.js ARGS` to completion: node itself, never npm/npx/tsx. */
export const hermes = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<RunResult> =>
  run(process.execPath, [hermesJs, ...args], { env: cleanEnv(env) })

/** A long-running process whose output goes to a file (no pipe to fill up), in its own session. */
export interface Daemon {
  readonly child: ChildProcess
  readonly incarnation: Incarnation
  readonly logFile: string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly alive: () => boolean
  readonly log: () => string
}

export const startDaemon = (
  file: string,
  args: ReadonlyArray<string>,
  options: { readonly env: NodeJS.ProcessEnv; readonly logFile: string; readonly cwd?: string }
): Daemon => {
  const fd = fs.openSync(options.logFile, "a")
  let child: ChildProcess
  try {
    child = spawn(file, args, {
      // detached = setsid(): the supervisor gets its own session and process group, as it would
      // from an init, and no terminal signal of ours reaches it.
      detached: true,
      stdio: ["ignore", fd, fd],
      env: options.env,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {})
    })
  } finally {
    fs.closeSync(fd)
  }
  if (child.pid === undefined) throw new Error(`could not start ${file}`)
  const incarnation = incarnationOf(child.pid) ?? { pid: child.pid, startTime: "?" }
  let done = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      done = true
      resolve({ code, signal })
    })
  )
  return {
    child,
    incarnation,
    logFile: options.logFile,
    exited,
    alive: () => !done,
    log: () => readText(options.logFile)
  }
}

export const readText = (file: string): string => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return ""
  }
}

/** Resolves with `promise`, or rejects after `ms` saying what took too long. */
export const within = async <A>(ms: number, what: string, promise: Promise<A>): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms}ms`)), ms)
      })
    ])
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------------------------------------
// Gateway home

/** A gateway home at `dir` (the harness's Home, made here because the home lives in the scratch dir). */
export const homeIn = (dir: string): Home => {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  return homeAt(dir)
}

// ---------------------------------------------------------------------------------------------
// Scratch directory and teardown

/**
 * One test's private world: a fresh directory (every supervisor's state, sockets, logs and the
 * gateway's home live under it) and a stack of teardown steps run in reverse order when the test
 * ends, whatever its outcome. Gateways seen during the test are SIGKILLed at the very end if
 * something let them survive their supervisor.
 */
export class Scratch {
  readonly dir: string
  private readonly steps: Array<{ readonly what: string; readonly run: () => unknown }> = []
  private readonly gateways = new Map<string, Incarnation>()
  private readonly notes: Array<() => string> = []

  constructor(ctx: TestContext, label: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `hermes-sv-${label}-`))
    fs.chmodSync(this.dir, 0o700)
    ctx.onTestFailed(async () => {
      const parts = await Promise.all(this.notes.map(async (note) => {
        try {
          return note()
        } catch (error) {
          return `(could not describe: ${String(error)})`
        }
      }))
      process.stderr.write(`\n[${ctx.task.name}]\n${parts.join("\n")}\n`)
    })
    ctx.onTestFinished(() => this.teardown())
  }

  path(...parts: Array<string>): string {
    return path.join(this.dir, ...parts)
  }

  mkdir(...parts: Array<string>): string {
    const dir = this.path(...parts)
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    return dir
  }

  /** Registers a teardown step; steps run last-registered first. */
  defer(what: string, step: () => unknown): void {
    this.steps.push({ what, run: step })
  }

  /** Something to print when the test fails (supervisor status, logs). */
  describeWith(note: () => string): void {
    this.notes.push(note)
  }

  /** Remembers a gateway incarnation so teardown can make sure it is gone. */
  track(incarnation: Incarnation | undefined): void {
    if (incarnation !== undefined) this.gateways.set(`${incarnation.pid}/${incarnation.startTime}`, incarnation)
  }

  private tornDown: Promise<void> | undefined

  /** Runs the teardown steps once (later calls wait for the first); throws what went wrong. */
  teardown(): Promise<void> {
    return (this.tornDown ??= this.runTeardown())
  }

  private async runTeardown(): Promise<void> {
    const errors: Array<string> = []
    for (const step of this.steps.reverse()) {
      try {
        await within(20_000, `teardown: ${step.what}`, Promise.resolve().then(step.run))
      } catch (error) {
        errors.push(`${step.what}: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
    for (const gateway of this.gateways.values()) {
      if (signalIncarnation(gateway, "SIGKILL")) errors.push(`gateway pid ${gateway.pid} outlived its supervisor; SIGKILLed`)
    }
    fs.rmSync(this.dir, { recursive: true, force: true })
    if (errors.length > 0) throw new Error(`teardown:\n${errors.join("\n")}`)
  }
}
