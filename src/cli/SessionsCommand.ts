// `hermes gateway sessions [--json]`, `sessions show ID|KEY [--json]`, `sessions reactivate ID` and
// `sessions prune --older-than AGE [--json]`:
// while a gateway is alive the request goes over its control channel (only the gateway opens the
// database); otherwise the database is opened directly, holding the home's lock (gateway.lock, not
// the control socket: this command never poses as a gateway) so no gateway starts meanwhile.
// The database is the SQLite file, or with sessions.engine: postgres the database the config names, which
// other replicas may be using: then it is queried without a lease, a recovery or a migration.
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { UnsafeHomeFiles } from "../home/HomeFiles.js"
import type { HomePaths } from "../home/HomePaths.js"
import { requestControl } from "../home/ControlSocket.js"
import { tryHomeLock } from "../home/InstanceLock.js"
import { ExitCode, ExitingError } from "../lifecycle/ExitCode.js"
import { parseDuration } from "../config/Duration.js"
import { boundsProblem, type DurationBounds, durationBounds } from "../config/DurationBounds.js"
import type { SessionSummary, SessionTranscript } from "../sessions/SessionDb.js"
import { answerQuery, type PruneReport, type SessionQuery } from "../sessions/SessionQueries.js"
import { withSessionDb } from "../sessions/SqliteSessionStore.js"
import { loadConfig } from "../config/LoadConfig.js"
import { deliveryLogFile } from "../sessions/DeliveryLog.js"
import type { SessionDbService } from "../sessions/SessionDb.js"
import { postgresSettingsOf } from "../sessions/SessionStoreOf.js"
import { homeOption, resolvePaths } from "./HomeOption.js"
import { escapeControls as safe, escapeMultiline } from "./TerminalText.js"
import { UsageError } from "./UsageError.js"

export class SessionsFailed extends ExitingError("SessionsFailed", ExitCode.CommandFailed)<{
  readonly message: string
}> {}

/** How long to keep trying while the home is held by something that does not answer (a gateway starting). */
const patience = Duration.seconds(10)
const retryEvery = Duration.millis(100)

type Attempt = { readonly _tag: "Done"; readonly value: unknown } | { readonly _tag: "Busy" }

/** A prune may delete many rows in one transaction: the gateway gets longer to answer it. */
const answerWithin = (query: SessionQuery) => (query.op === "prune" ? 120_000 : 10_000)

const fromGateway = (paths: HomePaths, query: SessionQuery) =>
  Effect.gen(function*() {
    const reply = yield* requestControl(paths.dir, query, answerWithin(query))
    if (reply._tag === "NoListener") return Option.none<unknown>()
    if (reply._tag === "NoAnswer" || Option.isNone(reply.answer)) {
      return yield* new SessionsFailed({ message: "the running gateway did not answer" })
    }
    const value = reply.answer.value as { ok?: unknown; error?: string }
    if (value.error !== undefined) return yield* new SessionsFailed({ message: value.error })
    return Option.some(value.ok)
  })

/**
 * The database this home's gateway uses: its SQLite file, or the PostgreSQL database its config names
 * (which other replicas may be using: queried without a lease, recovery or migration).
 */
const withHomeSessionDb = <A, E>(paths: HomePaths, use: (db: SessionDbService) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const config = yield* loadConfig({ file: paths.config, env: process.env }).pipe(
      Effect.mapError((error) => new SessionsFailed({ message: error.message }))
    )
    const postgres = yield* postgresSettingsOf(config, process.env).pipe(
      Effect.mapError((error) => new SessionsFailed({ message: error.message }))
    )
    return yield* postgres === null
      ? withSessionDb(paths.database, use)
      // Loaded only here: the PostgreSQL driver stays out of every other command's start-up.
      : Effect.flatMap(
        Effect.promise(() => import("../sessions/postgres/PgQueryAccess.js")),
        ({ withPostgresSessionQueries }) => withPostgresSessionQueries(postgres, deliveryLogFile(paths.database), use)
      )
  })

/** No gateway: hold the home's lock while the database is open, so none starts and opens it too. */
const fromDatabase = (paths: HomePaths, query: SessionQuery): Effect.Effect<Attempt, SessionsFailed | UnsafeHomeFiles> =>
  Effect.scoped(Effect.gen(function*() {
    // SQLite may create -wal/-shm (and the wasm engine its lock directory) without a mode of ours.
    process.umask(0o077)
    const held = yield* tryHomeLock(paths.dir)
    if (Option.isNone(held)) return { _tag: "Busy" } as const
    return { _tag: "Done", value: yield* withHomeSessionDb(paths, (db) => answerQuery(db, query)) } as const
  })).pipe(
    // A home that never ran a gateway simply has no sessions yet (the file is never created here).
    Effect.catchIf(
      (error) => error._tag === "SessionDbError" && error.reason === "missing" && query.op === "sessions",
      () => Effect.succeed({ _tag: "Done", value: [] } as const)
    ),
    // Nor anything to prune.
    Effect.catchIf(
      (error) => error._tag === "SessionDbError" && error.reason === "missing" && query.op === "prune",
      () => Effect.succeed({ _tag: "Done", value: { sessions: 0, turns: 0, messages: 0, cutoff: null } } as const)
    ),
    Effect.mapError((error) =>
      "reason" in error && error.reason === "unsafe"
        // A link or a foreign file in the home is a misconfiguration, as it is for `gateway run`.
        ? new UnsafeHomeFiles({ message: error.message, files: [] })
        : error._tag === "SessionsFailed"
        ? error
        : new SessionsFailed({
          message: "reason" in error && error.reason === "missing" && !error.message.startsWith("no sessions yet")
            ? `no sessions yet (${paths.database} does not exist)`
            : error.message
        })
    )
  )

const ask = (paths: HomePaths, query: SessionQuery): Effect.Effect<unknown, SessionsFailed | UnsafeHomeFiles> => {
  const attempt = (deadline: number): Effect.Effect<unknown, SessionsFailed | UnsafeHomeFiles> =>
    Effect.gen(function*() {
      const answered = yield* fromGateway(paths, query)
      if (Option.isSome(answered)) return answered.value
      const direct = yield* fromDatabase(paths, query)
      if (direct._tag === "Done") return direct.value
      // Held, but nobody serves the control socket yet: a gateway starting, or another CLI.
      if ((yield* Clock.currentTimeMillis) >= deadline) {
        return yield* new SessionsFailed({
          message: `home ${paths.dir} is held by a process that does not answer (a gateway still starting?); try again`
        })
      }
      yield* Effect.sleep(retryEvery)
      return yield* attempt(deadline)
    })
  return Clock.currentTimeMillis.pipe(Effect.flatMap((now) => attempt(now + Duration.toMillis(patience))))
}

const print = (text: string) => Effect.sync(() => process.stdout.write(text + "\n"))

const jsonOption = Options.boolean("json").pipe(Options.withDescription("print machine-readable JSON"))

/**
 * The session `key` names: its id, else the key the client sent (HTTP `user` / X-Hermes-Session,
 * a Telegram chat id). A key several platforms use names several sessions: they are listed, and
 * the command fails asking for the id.
 */
const sessionIdFor = (paths: HomePaths, key: string) =>
  Effect.gen(function*() {
    const found = (yield* ask(paths, { op: "lookup", key })) as ReadonlyArray<SessionSummary>
    if (found.length === 1) return found[0]!.id
    if (found.length === 0) return yield* new SessionsFailed({ message: safe(`no session ${key} (no session has that id, nor a client that key)`) })
    // Each cell escaped on its own, as in the list: a tab from a client cannot shift the columns.
    for (const s of found) yield* print([s.id, s.platform, s.chatKey, s.lastActivity, s.status].map(safe).join("\t"))
    return yield* new SessionsFailed({
      message: safe(`the key ${key} names ${found.length} sessions (listed above, one per platform): give the id`)
    })
  })

const showCommand = Command.make("show", {
  home: homeOption,
  json: jsonOption,
  id: Args.text({ name: "ID|KEY" }).pipe(
    Args.withDescription("session id, or the key its client sent (`user`, X-Hermes-Session; see `hermes gateway sessions`)")
  )
}, ({ home, id: key, json }) =>
  Effect.gen(function*() {
    const paths = yield* resolvePaths(home)
    const id = yield* sessionIdFor(paths, key)
    const transcript = (yield* ask(paths, { op: "transcript", id })) as SessionTranscript
    if (json) return yield* print(JSON.stringify(transcript, null, 2))
    const s = transcript.session
    // Human renderings escape what clients wrote (TerminalText.ts); --json above stays exact.
    yield* print(safe(`session ${s.id} (${s.platform}, key ${s.chatKey}, ${s.status}, ${s.messageCount} messages)`))
    for (const m of transcript.messages) {
      const turn = m.turnId === null ? "" : ` [turn ${m.turnId}${m.turnStatus !== null ? ` ${m.turnStatus}` : ""}]`
      yield* print(`${safe(`${m.createdAt} #${m.seq} ${m.role}${turn}`)}: ${escapeMultiline(m.content)}`)
    }
  })).pipe(Command.withDescription("Print one session's whole transcript, in order."))

const reactivateCommand = Command.make("reactivate", {
  home: homeOption,
  json: jsonOption,
  id: Args.text({ name: "ID" }).pipe(Args.withDescription("id of a suspended session (see `hermes gateway sessions`)"))
}, ({ home, id, json }) =>
  Effect.gen(function*() {
    const session = (yield* ask(yield* resolvePaths(home), { op: "reactivate", id })) as SessionSummary
    if (json) return yield* print(JSON.stringify(session, null, 2))
    yield* print(safe(
      `session ${session.id} (${session.platform}, key ${session.chatKey}) is ${session.status}: it takes new messages again; ` +
        "a turn it had left to resume runs at the gateway's next start"
    ))
  })).pipe(Command.withDescription(
    "Let a session the restart-loop breaker suspended (a turn in it was running in three lives that died) take messages again."
  ))

/** --older-than: the retention's bounds, without its 0 (pruning everything is never what was meant). */
const pruneAgeBounds: DurationBounds = { min: durationBounds["sessions.retention"].min, max: durationBounds["sessions.retention"].max }

const olderThanMs = (text: string): Effect.Effect<number, UsageError> =>
  Either.match(parseDuration(text), {
    onLeft: (reason) => Effect.fail(new UsageError({ message: `--older-than: ${reason}` })),
    onRight: (age) => {
      const problem = boundsProblem(age, pruneAgeBounds)
      return problem === undefined ? Effect.succeed(Duration.toMillis(age)) : Effect.fail(new UsageError({ message: `--older-than: ${problem}` }))
    }
  })

const pruneCommand = Command.make("prune", {
  home: homeOption,
  json: jsonOption,
  olderThan: Options.text("older-than").pipe(
    Options.withDescription("remove finished sessions last active longer ago than this (e.g. 30d; at least 1d)")
  )
}, ({ home, json, olderThan }) =>
  Effect.gen(function*() {
    const age = yield* olderThanMs(olderThan)
    const report = (yield* ask(yield* resolvePaths(home), { op: "prune", olderThanMs: age })) as PruneReport
    if (json) return yield* print(JSON.stringify(report, null, 2))
    const before = report.cutoff === null ? "" : ` last active before ${report.cutoff}`
    yield* print(`removed ${report.sessions} session(s), ${report.turns} turn(s) and ${report.messages} message(s)${before}`)
  })).pipe(Command.withDescription(
    "Remove finished sessions (no turn running, waiting to resume, or with an answer not yet delivered; not suspended) " +
      "whose last activity is older than --older-than, with their turns and messages."
  ))

export const sessionsCommand = Command.make("sessions", { home: homeOption, json: jsonOption }, ({ home, json }) =>
  Effect.gen(function*() {
    const sessions = (yield* ask(yield* resolvePaths(home), { op: "sessions" })) as ReadonlyArray<SessionSummary>
    if (json) return yield* print(JSON.stringify(sessions, null, 2))
    if (sessions.length === 0) return yield* print("no sessions")
    yield* print(["id", "platform", "key", "messages", "last activity", "status"].join("\t"))
    for (const s of sessions) {
      // Each cell escaped on its own: a tab or newline from a client cannot shift the columns.
      const cells = [s.id, s.platform, s.user ?? s.chatKey, s.messageCount, s.lastActivity, s.status]
      yield* print(cells.map((cell) => safe(String(cell))).join("\t"))
    }
  })).pipe(
    Command.withDescription("List conversations (id, platform, key, message count, last activity, status)."),
    Command.withSubcommands([showCommand, reactivateCommand, pruneCommand])
  )
