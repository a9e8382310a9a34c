// `hermes gateway run`: the gateway in the foreground, logging to stderr, exiting per CONTRACT 3.1.
import * as Command from "@effect/cli/Command"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Adapter } from "../adapters/Adapter.js"
import { makeHttpAdapter } from "../adapters/http/HttpAdapter.js"
import { telegramOptionsFrom } from "../adapters/telegram/TelegramOptions.js"
import { echoAgent, echoModel } from "../agents/EchoAgent.js"
import { openAiAgent, openAiOptionsFrom } from "../agents/OpenAiAgent.js"
import type { GatewayConfig } from "../config/GatewayConfig.js"
import { loadConfig } from "../config/LoadConfig.js"
import { Forensics } from "../forensics/Forensics.js"
import { requireHomeUsable } from "../forensics/HomeCheck.js"
import { describeTightened, secureHomeFiles } from "../home/HomeFiles.js"
import { ensureHome } from "../home/HomePaths.js"
import { HomeStore } from "../home/HomeStore.js"
import { selfIdentity } from "../home/ProcessIdentity.js"
import { StartHistory, startHistoryFile } from "../home/StartHistory.js"
import { ExitCode, PassThroughExit } from "../lifecycle/ExitCode.js"
import type { RestartRequested } from "../lifecycle/GatewayErrors.js"
import { runGateway } from "../lifecycle/Gateway.js"
import type { ShutdownBudget } from "../lifecycle/ShutdownBudget.js"
import { Signals } from "../lifecycle/Signals.js"
import { runSuccessors } from "../lifecycle/Successor.js"
import { Watchdog } from "../lifecycle/Watchdog.js"
import { loggingLayer } from "../logging/Logging.js"
import { withTracing } from "../telemetry/Tracing.js"
import { tracedAgent } from "../telemetry/TurnSpans.js"
import { currentSupervisor } from "../supervision/Detection.js"
import { budgetWarning, readSupervisorTimeout } from "../supervision/SupervisorTimeout.js"
import { SystemdNotify } from "../supervision/SystemdNotify.js"
import { postgresSettingsOf, replicaSettingsOf, sessionStoreOf } from "../sessions/SessionStoreOf.js"
import type { PostgresSettings } from "../sessions/postgres/PostgresSettings.js"
import { homeOption, resolvePaths } from "./HomeOption.js"

export const budgetOf = (config: GatewayConfig): ShutdownBudget => ({
  drain: config.gateway.drain_timeout,
  adapterConnect: config.gateway.adapter_connect_timeout,
  adapterDisconnect: config.gateway.adapter_disconnect_timeout,
  dbClose: config.gateway.db_close_timeout,
  markerTtl: config.gateway.marker_ttl
})

const agentLayer = (config: GatewayConfig) =>
  config.agent.kind === "echo"
    ? Effect.succeed(echoAgent(config.agent.echo.delay))
    : Either.match(openAiOptionsFrom(config.agent.openai, process.env), {
      onLeft: (error) => Effect.fail(error),
      onRight: (options) => Effect.succeed(openAiAgent(options))
    })

/** The model the agent answers as: reported by `GET /v1/models` and in completions. */
const agentModel = (config: GatewayConfig): string =>
  config.agent.kind === "echo" ? echoModel : config.agent.openai.model.trim()

const adaptersOf = (config: GatewayConfig, home: string, postgres: PostgresSettings | null) =>
  Effect.gen(function*() {
    const adapters: Array<Adapter> = []
    const http = config.adapters.http
    if (http.enabled) {
      adapters.push(yield* makeHttpAdapter({
        host: http.host,
        port: http.port,
        apiKey: http.api_key,
        maxBodyBytes: http.max_body_bytes,
        maxConnections: http.max_connections,
        requestTimeoutMillis: Duration.toMillis(http.request_timeout),
        maxInflightBodyBytes: http.max_inflight_body_bytes,
        model: agentModel(config)
      }))
    }
    const telegram = config.adapters.telegram
    if (telegram.enabled) {
      // A missing token is a configuration error (78) naming the variable, like the agent's key.
      const options = yield* Either.match(telegramOptionsFrom(telegram, process.env, home), {
        onLeft: (error) => Effect.fail(error),
        onRight: (options) => Effect.succeed(options)
      })
      // Loaded only when enabled: a gateway without Telegram never evaluates the adapter's code.
      const { makeTelegramAdapter } = yield* Effect.promise(() => import("../adapters/telegram/TelegramAdapter.js"))
      // With the SessionDB in PostgreSQL, replicas may share the token: one polls at a time.
      const replicas = postgres === null ? {} : { replicas: { postgres } }
      adapters.push(yield* makeTelegramAdapter({ ...options, ...replicas }).pipe(Effect.provide(FetchHttpClient.layer)))
    }
    return adapters
  })

/** systemd asks for keep-alive pings with WATCHDOG_USEC (for us only if WATCHDOG_PID is ours or unset). */
const systemdWatchdogOf = (env: NodeJS.ProcessEnv): { systemdWatchdog?: Duration.Duration } => {
  const usec = Number(env.WATCHDOG_USEC)
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid
  return Number.isFinite(usec) && usec > 0 && forUs ? { systemdWatchdog: Duration.micros(BigInt(Math.floor(usec))) } : {}
}

/** The whole foreground life of a gateway in `home`; shared by `run` and `boot`. */
export const runInHome = (home: Option.Option<string>) =>
  Effect.gen(function*() {
    const paths = yield* resolvePaths(home)
    // Whatever the gateway, SQLite or the diagnostic shell create is private, whatever umask the
    // supervisor passed down (SQLite's -wal/-shm and the wasm engine's lock take no mode from us).
    process.umask(0o077)
    // A home we cannot own and write is refused up front (78) rather than failing mid-shutdown.
    yield* requireHomeUsable(paths.dir)
    // So is one where a file we write in place is a link or someone else's (78), before any write.
    const tightened = yield* secureHomeFiles(paths)
    yield* ensureHome(paths)
    const config = yield* loadConfig({ file: paths.config, env: process.env })
    const sessionsPostgres = yield* postgresSettingsOf(config, process.env)
    const sessionsReplica = yield* replicaSettingsOf(config, paths.dir)
    // Recorded for stop/restart routing and forensics; never used to classify a signal.
    const supervisor = yield* currentSupervisor
    const supervised = supervisor !== null
    const program = Effect.gen(function*() {
      yield* Effect.log(`hermes gateway starting home=${paths.dir}${supervisor !== null ? ` supervisor=${supervisor.kind}` : ""}`)
      for (const change of tightened) yield* Effect.logWarning(describeTightened(change))
      // The supervisor's kill timeout is read in the background: a slow systemctl never delays start-up.
      yield* Effect.fork(readSupervisorTimeout(supervisor).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.void,
          onSome: (live) =>
            Option.match(budgetWarning(live, budgetOf(config)), {
              onNone: () => Effect.logDebug(`${live.source} is long enough for the shutdown budget`),
              onSome: (warning) => Effect.logWarning(warning)
            })
        }))
      ))
      const adapters = yield* adaptersOf(config, paths.dir, sessionsPostgres)
      const agent = yield* agentLayer(config)
      yield* runGateway({
        budget: budgetOf(config),
        self: selfIdentity(),
        argv: process.argv,
        adapters,
        supervisor,
        loopStallTimeout: config.gateway.loop_stall_timeout,
        resumeWindow: config.gateway.resume_window,
        sessionRetention: config.sessions.retention,
        maxInflightTurns: config.gateway.max_inflight_turns,
        startupTimeout: config.gateway.startup_timeout,
        respawnStorm: { maxStarts: config.gateway.respawn_storm.max_starts, window: config.gateway.respawn_storm.window },
        agentLabel: config.agent.kind === "echo" ? "echo" : `openai ${agentModel(config)}`,
        ...systemdWatchdogOf(process.env)
      }).pipe(
        Effect.provide(Layer.mergeAll(
          HomeStore.live(paths),
          Signals.live,
          Watchdog.live(paths.lifecycleLog),
          SystemdNotify.live,
          Forensics.live(paths, selfIdentity()),
          sessionStoreOf(config, paths.database, sessionsPostgres, sessionsReplica),
          StartHistory.live(startHistoryFile(paths.dir)),
          tracedAgent(agent)
        ))
      )
    })
    yield* program.pipe(
      // Traces cover this life only: they are flushed before a successor is started.
      withTracing(config.telemetry, process.env),
      // Supervised, a restart is exit 75 and the supervisor starts the next process; alone in a
      // terminal, this process starts its successor itself (CONTRACT 3.4).
      Effect.catchTag("RestartRequested", (restart): Effect.Effect<void, RestartRequested | PassThroughExit> =>
        supervised
          ? Effect.fail(restart)
          : runSuccessors({
            argv: process.argv.slice(1),
            plannedStopFile: paths.plannedStop,
            stateFile: paths.state,
            lifecycleLog: paths.lifecycleLog,
            self: selfIdentity(),
            markerTtlMs: Duration.toMillis(config.gateway.marker_ttl)
          }).pipe(
            Effect.flatMap((code) =>
              code === ExitCode.PlannedStop
                ? Effect.void
                : Effect.fail(new PassThroughExit(code, `the successor gateway exited with ${code}`))
            )
          )),
      Effect.provide(loggingLayer(config.log.format, config.log.level))
    )
  })

export const runCommand = Command.make("run", { home: homeOption }, ({ home }) => runInHome(home)).pipe(Command.withDescription(
    "Run the gateway in the foreground until stopped. Ctrl+C or `hermes gateway stop` stop it " +
      "and exit 0; a SIGTERM nobody announced exits 1 so a supervisor restarts it."
  ))
