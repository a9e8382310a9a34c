// End-to-end harness: spawns the built gateway (`node dist/hermes.js`, never a wrapper, so signals
// reach the daemon itself), gives every test its own temporary home, polls real files and real
// HTTP endpoints, and cleans up — SIGKILLing whatever is still alive — even when a test fails.
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { TestContext } from "vitest"
import { readStartTime } from "../../src/home/ProcessIdentity.js"

/** The built CLI; HERMES_E2E_BIN points the suite at another build (e.g. an installed package). */
export const hermesJs = process.env.HERMES_E2E_BIN ?? fileURLToPath(new URL("../../dist/hermes.js", import.meta.url))

/** Fails loudly (once per file) if the bundle was not built before the tests ran. */
export const assertBuilt = (): void => {
  if (!fs.existsSync(hermesJs)) {
    throw new Error(
      `${hermesJs} is missing: the e2e tests run the built gateway. Build it first with \`npm run build\` ` +
        "(the `npm test` script builds before running vitest)."
    )
  }
}

export interface ExitInfo {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves with how the child ended; resolves at once when it already has. */
export const waitForExit = (child: ChildProcess): Promise<ExitInfo> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))

const isRunning = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null

/**
 * Polls `probe` until it returns something other than undefined/false, or throws after `timeoutMs`.
 * The deadlines here are generous on purpose: they cost nothing when the fact arrives, and a loaded
 * machine (see `npm run test:stress`) makes every fact arrive late.
 */
export const waitFor = async <A>(
  what: string,
  probe: () => A | undefined | false | Promise<A | undefined | false>,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number; readonly context?: () => string } = {}
): Promise<A> => {
  const timeoutMs = options.timeoutMs ?? 30_000
  const intervalMs = options.intervalMs ?? 25
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (true) {
    try {
      const value = await probe()
      if (value !== undefined && value !== false) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      const extra = options.context?.() ?? ""
      throw new Error(
        `timed out after ${timeoutMs}ms waiting for ${what}` +
          (lastError !== undefined ? ` (last error: ${String(lastError)})` : "") +
          (extra !== "" ? `\n${extra}` : "")
      )
    }
    await sleep(intervalMs)
  }
}

/** Reads a JSON file; undefined when missing, empty or half-written (never throws). */
export const readJsonFile = <A = Record<string, any>>(file: string): A | undefined => {
  try {
    const text = fs.readFileSync(file, "utf8")
    return text.trim() === "" ? undefined : (JSON.parse(text) as A)
  } catch {
    return undefined
  }
}

export const readJsonLines = (file: string): Array<Record<string, any>> => {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line))
  } catch {
    return []
  }
}

export interface Home {
  readonly dir: string
  readonly config: string
  readonly state: string
  readonly pidFile: string
  readonly plannedStop: string
  readonly cleanShutdown: string
  readonly lifecycleLog: string
  readonly readState: () => Record<string, any> | undefined
  readonly readPidFile: () => { pid: number; start_time: string } | undefined
  readonly lifecycle: () => Array<Record<string, any>>
}

/** The harness view of a gateway home at `dir` (which may live outside os.tmpdir()). */
export const homeAt = (dir: string): Home => {
  const state = path.join(dir, "gateway_state.json")
  const pidFile = path.join(dir, "gateway.pid")
  const lifecycleLog = path.join(dir, "logs", "lifecycle.jsonl")
  return {
    dir,
    config: path.join(dir, "config.yaml"),
    state,
    pidFile,
    plannedStop: path.join(dir, ".gateway-planned-stop.json"),
    cleanShutdown: path.join(dir, ".clean_shutdown"),
    lifecycleLog,
    readState: () => readJsonFile(state),
    readPidFile: () => readJsonFile(pidFile),
    lifecycle: () => readJsonLines(lifecycleLog)
  }
}

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export class Gateway {
  stderr = ""
  stdout = ""
  readonly exited: Promise<ExitInfo>

  constructor(readonly child: ChildProcess, readonly home: Home, readonly label: string) {
    child.stderr!.setEncoding("utf8")
    child.stdout!.setEncoding("utf8")
    child.stderr!.on("data", (chunk: string) => (this.stderr += chunk))
    child.stdout!.on("data", (chunk: string) => (this.stdout += chunk))
    // Resolves only once the streams are drained too, so assertions on logs see the last lines.
    this.exited = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })))
  }

  get pid(): number {
    return this.child.pid!
  }

  get alive(): boolean {
    return isRunning(this.child)
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal)
  }

  describe(): string {
    return `--- ${this.label} (pid ${this.child.pid}) stderr ---\n${this.stderr}` +
      (this.stdout !== "" ? `--- stdout ---\n${this.stdout}` : "")
  }

  /** Waits for gateway_state "running" written by this process; returns the HTTP port. */
  async waitRunning(timeoutMs = 30_000): Promise<number> {
    return waitFor("gateway_state running", () => {
      if (!this.alive) throw new Error(`gateway exited before running (code ${this.child.exitCode}, signal ${this.child.signalCode})`)
      const state = this.home.readState()
      return state?.gateway_state === "running" && state.pid === this.pid && typeof state.platforms?.http?.port === "number"
        ? (state.platforms.http.port as number)
        : undefined
    }, { timeoutMs, context: () => this.describe() })
  }

  /**
   * Waits until gateway_state.json satisfies `predicate` (returning something other than
   * undefined/false); fails early when this process exits, unless `allowExit`.
   */
  async waitState<A>(
    what: string,
    predicate: (state: Record<string, any>) => A | undefined | false,
    options: { readonly timeoutMs?: number; readonly allowExit?: boolean } = {}
  ): Promise<A> {
    // Its own loop rather than waitFor, which retries a throwing probe: a dead gateway fails at once.
    const timeoutMs = options.timeoutMs ?? 30_000
    const deadline = Date.now() + timeoutMs
    const context = () => `state: ${JSON.stringify(this.home.readState())}\n${this.describe()}`
    while (true) {
      const state = this.home.readState()
      const value = state === undefined ? undefined : predicate(state)
      if (value !== undefined && value !== false) return value
      if (options.allowExit !== true && !this.alive) {
        throw new Error(
          `gateway exited (code ${this.child.exitCode}, signal ${this.child.signalCode}) while waiting for ${what}\n${context()}`
        )
      }
      if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}\n${context()}`)
      await sleep(25)
    }
  }

  /**
   * After an unsupervised restart (CONTRACT 3.4): waits until a successor (another pid than this
   * process and than `not`) has written gateway_state running; returns its pid. This process stays
   * behind as the successor's parent.
   */
  waitSuccessor(options: { readonly not?: ReadonlyArray<number>; readonly timeoutMs?: number } = {}): Promise<number> {
    const excluded = new Set([this.pid, ...(options.not ?? [])])
    return this.waitState("a successor running", (state) =>
      state.gateway_state === "running" && typeof state.pid === "number" && !excluded.has(state.pid)
        ? (state.pid as number)
        : undefined, { timeoutMs: options.timeoutMs ?? 40_000 })
  }

  /** Waits until the log contains `text`. */
  waitLog(text: string | RegExp, timeoutMs = 30_000): Promise<true> {
    return waitFor(`log ${String(text)}`, () => (typeof text === "string" ? this.stderr.includes(text) : text.test(this.stderr)), {
      timeoutMs,
      context: () => this.describe()
    })
  }

  /** Waits for the exit, failing with the logs if it takes longer than `timeoutMs`. */
  async waitExit(timeoutMs = 30_000): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`gateway did not exit within ${timeoutMs}ms\n${this.describe()}`)), timeoutMs)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}

export interface ChatResult {
  readonly status: number
  readonly headers: Headers
  readonly body: any
}

/** POST /v1/chat/completions with one user message; never throws on HTTP errors. */
export const chat = async (port: number, content: string, timeoutMs = 60_000): Promise<ChatResult> => {
  // Bounded, so a gateway that never answers fails the test with a clear reason, not a test timeout.
  const signal = AbortSignal.timeout(timeoutMs)
  const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content }] }),
    signal
  })
  const text = await response.text()
  let body: any = text
  try {
    body = JSON.parse(text)
  } catch {
    // keep the text
  }
  return { status: response.status, headers: response.headers, body }
}

export const readyz = async (port: number): Promise<number> =>
  (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(15_000) })).status

/**
 * One test's sandbox: homes and processes it creates are removed / SIGKILLed when the test ends,
 * and every captured log is printed when it fails. Bound to the test's own context so that it
 * works with concurrent tests.
 */
export class Sandbox {
  private readonly homes: Array<string> = []
  private readonly children: Array<{ child: ChildProcess; describe: () => string }> = []
  /** pid → its start time when adopted, so a pid reused by another process is never killed. */
  private readonly adopted = new Map<number, string | undefined>()
  /**
   * The XDG_RUNTIME_DIR of this sandbox's processes: machine-wide per-user locks (one Telegram
   * poller per token) are shared by its gateways and by no other test's.
   */
  private runtimeDir: string | undefined

  constructor(context: TestContext) {
    context.onTestFailed(() => {
      for (const { describe } of this.children) process.stderr.write(`\n[${context.task.name}]\n${describe()}\n`)
    })
    context.onTestFinished(() => this.cleanup())
  }

  /** A fresh home; `config` is written to config.yaml (port 0 unless the config says otherwise). */
  home(config: string = defaultConfig()): Home {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-e2e-"))
    this.homes.push(dir)
    const home = homeAt(dir)
    if (config !== "") fs.writeFileSync(home.config, config)
    return home
  }

  /** `hermes gateway run --home DIR`, spawned directly with node. */
  run(home: Home, env: Record<string, string | undefined> = {}, label = "gateway"): Gateway {
    const child = spawn(process.execPath, [hermesJs, "gateway", "run", "--home", home.dir], {
      stdio: ["ignore", "pipe", "pipe"],
      env: this.env(env)
    })
    const gateway = new Gateway(child, home, label)
    this.children.push({ child, describe: () => gateway.describe() })
    return gateway
  }

  /** Runs another `hermes` command to completion. */
  cli(args: ReadonlyArray<string>, env: Record<string, string | undefined> = {}, timeoutMs = 30_000): Promise<CliResult> {
    const child = spawn(process.execPath, [hermesJs, ...args], { stdio: ["ignore", "pipe", "pipe"], env: this.env(env) })
    let stdout = ""
    let stderr = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const describe = () => `--- hermes ${args.join(" ")} (pid ${child.pid}) ---\nstdout:\n${stdout}\nstderr:\n${stderr}`
    this.children.push({ child, describe })
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        reject(new Error(`hermes ${args.join(" ")} did not finish within ${timeoutMs}ms\n${describe()}`))
      }, timeoutMs)
      child.once("close", (code, signal) => {
        clearTimeout(timer)
        resolve({ code, signal, stdout, stderr })
      })
    })
  }

  private env(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
    this.runtimeDir ??= fs.mkdtempSync(path.join(os.tmpdir(), "hermes-e2e-run-"))
    // Node's compile cache (src/bin/CompileCache.ts) goes into the sandbox too, not the user's ~/.cache.
    return cleanEnv({ XDG_RUNTIME_DIR: this.runtimeDir, XDG_CACHE_HOME: path.join(this.runtimeDir, "cache"), ...extra })
  }

  /**
   * A process the test did not spawn itself (e.g. the successor an unsupervised restart starts) that
   * must not outlive the test: SIGKILLed at cleanup, like the sandbox's own children.
   */
  adopt(pid: number): void {
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) this.adopted.set(pid, readStartTime(pid))
  }

  cleanup(): void {
    for (const { child } of this.children) {
      if (isRunning(child)) child.kill("SIGKILL")
    }
    for (const [pid, startTime] of this.adopted) {
      if (startTime === undefined || readStartTime(pid) !== startTime) continue
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
    // A process the sandbox never saw: a successor an old gateway was starting when it was killed
    // above (already forked, so it is in /proc now). Left alone it would find its home gone, make
    // it again and serve on the default port for ever.
    for (const pid of processesUsingHomes(this.homes)) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
    for (const dir of this.homes) fs.rmSync(dir, { recursive: true, force: true })
    if (this.runtimeDir !== undefined) fs.rmSync(this.runtimeDir, { recursive: true, force: true })
  }
}

/** Pids whose command line names one of `homes` after `--home` (Linux /proc; none elsewhere). */
const processesUsingHomes = (homes: ReadonlyArray<string>): Array<number> => {
  if (homes.length === 0) return []
  let entries: Array<string>
  try {
    entries = fs.readdirSync("/proc")
  } catch {
    return []
  }
  const wanted = new Set(homes)
  const found: Array<number> = []
  for (const entry of entries) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
      const at = args.indexOf("--home")
      if (at >= 0 && wanted.has(args[at + 1] ?? "")) found.push(pid)
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found
}

/**
 * The environment of a spawned gateway: ours minus HERMES_* (so the host cannot leak config in),
 * plus `extra`; a key given as undefined in `extra` is removed (e.g. to make sure a variable is unset).
 */
const cleanEnv = (extra: Record<string, string | undefined>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("HERMES_") && key !== "NODE_OPTIONS") env[key] = value
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }
  return env
}

/** config.yaml with a free port and the given echo delay. */
export const defaultConfig = (options: { readonly delay?: string; readonly drain?: string } = {}): string =>
  [
    ...(options.drain !== undefined ? ["gateway:", `  drain_timeout: ${options.drain}`] : []),
    "adapters:",
    "  http:",
    "    port: 0",
    "agent:",
    "  echo:",
    `    delay: ${options.delay ?? "0s"}`,
    ""
  ].join("\n")

/** The `shutdown phase=<name>` lines of a log, in order. */
export const phasesOf = (log: string): Array<string> =>
  [...log.matchAll(/shutdown phase=(\w+) took=\d+ at=\+[\d.]+/g)].map((match) => match[1]!)

/**
 * The shutdown phases in CONTRACT 5's order, written out from the contract on purpose rather than
 * imported from src/lifecycle/Phase.ts: these tests are the operator's check of that order.
 */
export const shutdownOrder = [
  "clean_shutdown_marker",
  "stop_intake",
  "notify_chats",
  "drain",
  "interrupt_turns",
  "disconnect_adapters",
  "close_session_db",
  "final_state"
]

/** The start time the gateway recorded for itself (gateway.pid). */
export const startTimeOf = (home: Home): string => {
  const pid = home.readPidFile()
  if (pid === undefined) throw new Error(`no valid gateway.pid in ${home.dir}`)
  return pid.start_time
}

export const writeMarker = (
  home: Home,
  marker: { target_pid: number; target_start_time: string; action: "stop" | "restart"; written_at?: string }
): void => {
  fs.writeFileSync(
    home.plannedStop,
    JSON.stringify({ stopper_pid: process.pid, written_at: new Date().toISOString(), ...marker }),
    { mode: 0o600 }
  )
}

/** Anything with the base URL of a fake (FakeTelegram: `url`; FakeModel: `baseUrl`) or the URL itself. */
type UrlOf = string | { readonly url: string; readonly baseUrl?: string }

export interface TelegramConfigOptions {
  /** The Bot API (a FakeTelegram or a URL) for adapters.telegram.api_base_url. */
  readonly botApi: UrlOf
  /** The OpenAI-compatible model server (a FakeModel, or base_url up to /v1); absent: the echo agent. */
  readonly model?: UrlOf
  readonly modelName?: string
  /** agent.openai.timeout, default 10s. */
  readonly modelTimeout?: string
  /** gateway.drain_timeout, default 2s. */
  readonly drain?: string
  /** gateway.resume_window; left to the default when absent. */
  readonly resumeWindow?: string
  /** adapters.telegram.poll_timeout, default 1s. */
  readonly pollTimeout?: string
  /** adapters.telegram.allowed_users, default [] (everyone). */
  readonly allowedUsers?: ReadonlyArray<number | string>
  /** adapters.telegram.token_env, default TELEGRAM_BOT_TOKEN. */
  readonly tokenEnv?: string
  /** The HTTP adapter on port 0 (default true: Gateway.waitRunning needs its port in the state file). */
  readonly http?: boolean
  /** Raw lines appended under `gateway:`. */
  readonly gatewayExtra?: ReadonlyArray<string>
}

/** config.yaml for a gateway with the Telegram adapter (and the openai agent when a model is given). */
export const telegramConfig = (options: TelegramConfigOptions): string => {
  const botApi = typeof options.botApi === "string" ? options.botApi : options.botApi.url
  const model = options.model === undefined
    ? undefined
    : typeof options.model === "string"
    ? options.model
    : options.model.baseUrl ?? `${options.model.url}/v1`
  return [
    "gateway:",
    `  drain_timeout: ${options.drain ?? "2s"}`,
    ...(options.resumeWindow !== undefined ? [`  resume_window: ${options.resumeWindow}`] : []),
    ...(options.gatewayExtra ?? []).map((line) => `  ${line}`),
    "adapters:",
    "  http:",
    ...(options.http === false ? ["    enabled: false"] : ["    port: 0"]),
    "  telegram:",
    "    enabled: true",
    `    token_env: ${options.tokenEnv ?? "TELEGRAM_BOT_TOKEN"}`,
    `    api_base_url: ${JSON.stringify(botApi)}`,
    `    poll_timeout: ${options.pollTimeout ?? "1s"}`,
    `    allowed_users: ${JSON.stringify(options.allowedUsers ?? [])}`,
    "agent:",
    ...(model === undefined
      ? ["  kind: echo"]
      : [
        "  kind: openai",
        "  openai:",
        `    base_url: ${JSON.stringify(model)}`,
        `    model: ${JSON.stringify(options.modelName ?? "fake-model")}`,
        `    timeout: ${options.modelTimeout ?? "10s"}`
      ]),
    ""
  ].join("\n")
}

/** The environment carrying a bot token (for Sandbox.run). */
export const telegramEnv = (token: string, variable = "TELEGRAM_BOT_TOKEN"): Record<string, string> => ({ [variable]: token })

/**
 * Waits until gateway_state.json (written by any process) satisfies `predicate`. For a process the
 * test started itself, Gateway.waitState also notices that it died.
 */
export const waitState = <A>(
  home: Home,
  what: string,
  predicate: (state: Record<string, any>) => A | undefined | false,
  options: { readonly timeoutMs?: number; readonly context?: () => string } = {}
): Promise<A> =>
  waitFor(what, () => {
    const state = home.readState()
    return state === undefined ? undefined : predicate(state)
  }, {
    timeoutMs: options.timeoutMs ?? 30_000,
    context: () => `state: ${JSON.stringify(home.readState())}${options.context !== undefined ? `\n${options.context()}` : ""}`
  })
