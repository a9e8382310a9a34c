// `hermes gateway install|uninstall --manager M`: writes (or removes) a service definition that
// encodes the exit-code and stop contract for that manager (CONTRACT 8), sized to the home's budget.
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { defaultConfig } from "../config/GatewayConfig.js"
import { loadConfig } from "../config/LoadConfig.js"
import { ensureHome, homePaths, type HomePaths, resolveHomeDir } from "../home/HomePaths.js"
import { requireHomeReachable } from "../home/HomeReach.js"
import { ExitCode, ExitingError } from "../lifecycle/ExitCode.js"
import type { ShutdownBudget } from "../lifecycle/ShutdownBudget.js"
import {
  type DefinitionFile,
  type DefinitionInput,
  defaultServiceName,
  hardDeadlineSeconds,
  inputProblems,
  killTimeoutSeconds,
  type Manager,
  managers
} from "../supervision/Definition.js"
import {
  defaultOutDir,
  isServiceDirectory,
  nextSteps,
  removeDefinitions,
  stopFirst,
  writeDefinitions
} from "../supervision/Install.js"
import { maxReplicas, type Replication, replicatedNextSteps, replicationOf } from "../supervision/Replication.js"
import { homeOption } from "./HomeOption.js"
import { budgetOf } from "./RunCommand.js"
import { UsageError } from "./UsageError.js"

/** The running program is not the built bundle, so no definition could start it. */
export class NotABundle extends ExitingError("NotABundle", ExitCode.Config)<{
  readonly message: string
}> {}

/** Everything install reads from the process, so tests can hand in their own. */
export interface InstallRuntime {
  readonly nodePath: string
  /** process.argv[1]: the script node is running. */
  readonly script: string | undefined
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly userHome: string
  readonly write: (text: string) => void
}

export const liveRuntime = (): InstallRuntime => ({
  nodePath: process.execPath,
  script: process.argv[1],
  env: process.env,
  cwd: process.cwd(),
  userHome: os.homedir(),
  write: (text) => process.stdout.write(text)
})

export interface InstallOptions {
  readonly manager: Manager
  readonly print: boolean
  readonly out: Option.Option<string>
  readonly home: Option.Option<string>
  readonly name: string
  readonly user: Option.Option<string>
  /** `--replicas N` and `--sessions sqlite|postgres`, as typed: checked by replicationOf. */
  readonly replicas?: Option.Option<string>
  readonly sessions?: Option.Option<string>
}

export type UninstallOptions = Omit<InstallOptions, "print" | "user" | "replicas" | "sessions">

/**
 * The bundle, symlinks resolved (a global install runs through a bin link; the unit should name the
 * file). Running from sources (tsx, vitest) would give a definition that cannot start.
 */
export const resolveEntry = (script: string | undefined, cwd: string): Effect.Effect<string, NotABundle> =>
  Effect.suspend(() => {
    if (script === undefined || script === "") {
      return Effect.fail(new NotABundle({ message: "cannot tell which script is running (no argv[1])" }))
    }
    let real: string
    try {
      real = fs.realpathSync(path.resolve(cwd, script))
    } catch (error) {
      return Effect.fail(new NotABundle({ message: `cannot resolve the running script ${script}: ${String(error)}` }))
    }
    if (!/\.[cm]?js$/.test(real) || !fs.statSync(real).isFile()) {
      return Effect.fail(new NotABundle({
        message: `the running script ${real} is not the built bundle (dist/hermes.js); ` +
          "run install through the installed `hermes` command or `node dist/hermes.js`"
      }))
    }
    return Effect.succeed(real)
  })

const widest = (a: ShutdownBudget, b: ShutdownBudget): ShutdownBudget => ({
  drain: Duration.max(a.drain, b.drain),
  adapterConnect: Duration.max(a.adapterConnect, b.adapterConnect),
  adapterDisconnect: Duration.max(a.adapterDisconnect, b.adapterDisconnect),
  dbClose: Duration.max(a.dbClose, b.dbClose),
  markerTtl: Duration.max(a.markerTtl, b.markerTtl)
})

/**
 * The service reads config.yaml but not this shell's HERMES_* variables (systemd and friends start it
 * with their own environment), while a variable here may be meant for it. Either may be the longer
 * budget, and a kill timeout sized to the shorter one would SIGKILL a drain, so take the longer of each.
 * A bad file or variable is a config error (exit 78) either way.
 */
const serviceConfig = (paths: HomePaths, env: Readonly<Record<string, string | undefined>>) =>
  Effect.gen(function*() {
    const fileOnly = yield* loadConfig({ file: paths.config, env: {} })
    const withEnv = yield* loadConfig({ file: paths.config, env: { ...env } })
    // A replicated definition names the URL's variable itself (its gateways have no config.yaml).
    return { budget: widest(budgetOf(fileOnly), budgetOf(withEnv)), urlEnv: withEnv.sessions.postgres.url_env }
  })

/** The flags' replication, checked before anything is read or written: a bad flag is exit 64. */
const requestedReplication = (options: InstallOptions) =>
  Either.match(
    replicationOf({
      manager: options.manager,
      replicas: Option.getOrUndefined(options.replicas ?? Option.none()),
      sessions: Option.getOrUndefined(options.sessions ?? Option.none())
    }),
    {
      onLeft: (message) => Effect.fail(new UsageError({ message })),
      onRight: (request) => Effect.succeed(request)
    }
  )

const outDirOf = (
  options: { readonly manager: Manager; readonly out: Option.Option<string>; readonly name: string },
  runtime: InstallRuntime,
  home: string
) =>
  Option.match(options.out, {
    onSome: (dir) => path.resolve(runtime.cwd, dir),
    onNone: () =>
      defaultOutDir(options.manager, {
        env: runtime.env,
        userHome: runtime.userHome,
        cwd: runtime.cwd,
        home,
        serviceName: options.name
      })
  })

const checked = (manager: Manager, input: DefinitionInput) => {
  const problems = inputProblems(manager, input)
  return problems.length === 0
    ? Effect.void
    : Effect.fail(new UsageError({ message: problems.join("\n") }))
}

/** One file is printed as is (so `--print > file` works); several each get a header line. */
const printed = (files: ReadonlyArray<DefinitionFile>): string =>
  files.length === 1
    ? files[0]!.content
    : files.map((f) => `# ==> ${f.path} (mode ${f.mode.toString(8).padStart(4, "0")}) <==\n${f.content}`).join("\n")

/**
 * The definitions for `manager`. The renderers are loaded only by the commands that write
 * definitions: `gateway run` never evaluates them (a chunk of its own in the bundle).
 */
const render = (manager: Manager, input: DefinitionInput) =>
  Effect.promise(() => import("../supervision/Renderers.js")).pipe(Effect.map(({ renderers }) => renderers[manager](input)))

/** Managers that open a log file under the home themselves, or keep the service directory in it. */
const needsHome = (manager: Manager): boolean =>
  manager === "launchd" || manager === "supervisord" || isServiceDirectory(manager)

export const install = (options: InstallOptions, runtime: InstallRuntime) =>
  Effect.gen(function*() {
    const request = yield* requestedReplication(options)
    const paths = homePaths(resolveHomeDir(Option.getOrUndefined(options.home), runtime.env))
    // A definition for a home the service could never use would only fail later, under the supervisor.
    yield* requireHomeReachable(paths.dir)
    const entry = yield* resolveEntry(runtime.script, runtime.cwd)
    const { budget, urlEnv } = yield* serviceConfig(paths, runtime.env)
    const user = Option.getOrUndefined(options.user)
    const replication: Replication | undefined = request === undefined ? undefined : { ...request, urlEnv }
    const input: DefinitionInput = {
      nodePath: runtime.nodePath,
      entry,
      home: paths.dir,
      budget,
      serviceName: options.name,
      user,
      ...(replication === undefined ? {} : { replication })
    }
    yield* checked(options.manager, input)
    const files = yield* render(options.manager, input)
    if (options.print) {
      runtime.write(printed(files))
      return
    }

    const outDir = outDirOf(options, runtime, paths.dir)
    const homeHint: Array<string> = []
    if (needsHome(options.manager)) {
      if (user === undefined || isServiceDirectory(options.manager)) yield* ensureHome(paths)
      else homeHint.push(`# the home must exist and belong to ${user}:`, `install -d -m 0700 -o ${user} ${paths.dir} ${paths.logs}`)
    }
    const report = yield* writeDefinitions(outDir, files)
    const lines = [
      ...report.written.map((file) => `wrote ${file}`),
      ...report.unchanged.map((file) => `unchanged ${file}`),
      `kill timeout ${killTimeoutSeconds(budget)}s (hard shutdown deadline ${hardDeadlineSeconds(budget)}s + 5s; budget from ${paths.config})`,
      "next:",
      ...[
        ...homeHint,
        ...(replication === undefined
          ? nextSteps(options.manager, outDir, options.name)
          : replicatedNextSteps(options.manager, outDir, options.name, replication))
      ].map((line) => `  ${line}`)
    ]
    runtime.write(lines.join("\n") + "\n")
  })

export const uninstall = (options: UninstallOptions, runtime: InstallRuntime) =>
  Effect.gen(function*() {
    const home = resolveHomeDir(Option.getOrUndefined(options.home), runtime.env)
    // Which files install writes depends on the manager and the name only; the rest of the input
    // is a stand-in, so a broken config or a run from sources cannot prevent an uninstall.
    const input: DefinitionInput = {
      nodePath: runtime.nodePath,
      entry: "/hermes.js",
      home,
      budget: budgetOf(defaultConfig),
      serviceName: options.name
    }
    yield* checked(options.manager, input)
    const outDir = outDirOf(options, runtime, home)
    const report = yield* removeDefinitions(outDir, yield* render(options.manager, input), isServiceDirectory(options.manager))
    const lines = [
      ...report.removed.map((file) => `removed ${file}`),
      ...report.kept.map((file) => `left ${file}`)
    ]
    if (report.removed.length === 0 && report.kept.length === 0) {
      lines.push(`nothing to remove: no ${options.manager} definition named ${options.name} in ${outDir}`)
    } else if (report.removed.length > 0) {
      lines.push(`if it was still enabled or running: ${stopFirst(options.manager, outDir, options.name)}`)
    }
    runtime.write(lines.join("\n") + "\n")
  })

const managerOption = Options.choice("manager", managers).pipe(
  Options.withDescription("the supervisor to write a definition for")
)

const outOption = Options.directory("out", { exists: "either" }).pipe(
  Options.withDescription(
    "directory the definition goes into (default: where the manager looks; for s6 and runit the " +
      "service directory itself, <home>/service/<name>)"
  ),
  Options.optional
)

const nameOption = Options.text("name").pipe(
  Options.withDescription("unit, program, label or resource name"),
  Options.withDefault(defaultServiceName)
)

export const installCommand = Command.make("install", {
  manager: managerOption,
  print: Options.boolean("print").pipe(Options.withDescription("write the definition to stdout and touch nothing")),
  out: outOption,
  home: homeOption,
  name: nameOption,
  user: Options.text("user").pipe(
    Options.withDescription("account to run as (systemd-system, supervisord, launchd daemons)"),
    Options.optional
  ),
  // Text, not integer or choice: replicationOf gives the one line that says what is wrong.
  replicas: Options.text("replicas").pipe(
    Options.withPseudoName("N"),
    Options.withDescription(
      `gateways to run, 1 to ${maxReplicas} (kubernetes, docker); more than 1 needs --sessions postgres`
    ),
    Options.optional
  ),
  sessions: Options.text("sessions").pipe(
    Options.withPseudoName("ENGINE"),
    Options.withDescription(
      "sqlite (default: one gateway, its own state.db) or postgres (replicas sharing one database, " +
        "its URL from a Secret or .env; kubernetes, docker)"
    ),
    Options.optional
  )
}, (options) => install(options, liveRuntime())).pipe(Command.withDescription(
  "Write a service definition for a supervisor: exit 75 restarts, 78 never, a planned stop stays " +
    "stopped, the stop hook marks the stop, and the kill timeout covers the shutdown budget. " +
    "kubernetes and docker can run several replicas on PostgreSQL (--replicas N --sessions postgres)."
))

export const uninstallCommand = Command.make("uninstall", {
  manager: managerOption,
  out: outOption,
  home: homeOption,
  name: nameOption
}, (options) => uninstall(options, liveRuntime())).pipe(Command.withDescription(
  "Remove the service definition that install wrote (only files it generated)."
))
