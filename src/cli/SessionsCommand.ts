// `hermes gateway sessions [--json]`, `sessions show ID [--json]` and `sessions reactivate ID`:
// while a gateway is alive the request goes over its control channel (only the gateway opens the
// database); otherwise the database is opened directly, holding the home lock so no gateway
// starts meanwhile.
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { HomePaths } from "../home/HomePaths.js"
import { acquireInstanceLock, probeLock, requestControl } from "../home/InstanceLock.js"
import { selfIdentity } from "../home/ProcessIdentity.js"
import { ExitCode } from "../lifecycle/ExitCode.js"
import type { SessionSummary, SessionTranscript } from "../sessions/SessionDb.js"
import { answerQuery, type SessionQuery } from "../sessions/SessionQueries.js"
import { withSessionDb } from "../sessions/SqliteSessionStore.js"
import { homeOption, resolvePaths } from "./HomeOption.js"

export class SessionsFailed extends Data.TaggedError("SessionsFailed")<{
  readonly message: string
}> {
  readonly exitCode = ExitCode.CommandFailed
}

const ask = (paths: HomePaths, query: SessionQuery): Effect.Effect<unknown, SessionsFailed> =>
  Effect.gen(function*() {
    if (Option.isSome(yield* probeLock(paths.dir))) {
      const answer = yield* requestControl(paths.dir, query)
      if (Option.isNone(answer)) return yield* new SessionsFailed({ message: "the running gateway did not answer" })
      const value = answer.value as { ok?: unknown; error?: string }
      if (value.error !== undefined) return yield* new SessionsFailed({ message: value.error })
      return value.ok
    }
    // No gateway: hold the lock while the file is open, so none starts and opens it too.
    return yield* Effect.scoped(Effect.gen(function*() {
      const self = selfIdentity()
      yield* acquireInstanceLock(paths.dir, { pid: self.pid, start_time: self.startTime, home: paths.dir })
      return yield* withSessionDb(paths.database, (db) => answerQuery(db, query))
    })).pipe(
      Effect.catchTag("HomeLocked", () => ask(paths, query)),
      // A home that never ran a gateway simply has no sessions yet (the file is never created here).
      Effect.catchIf(
        (error) => error._tag === "SessionDbError" && error.reason === "missing" && query.op === "sessions",
        () => Effect.succeed([])
      ),
      Effect.mapError((error) =>
        new SessionsFailed({
          message: "reason" in error && error.reason === "missing" ? `no sessions yet (${paths.database} does not exist)` : error.message
        })
      )
    )
  })

const print = (text: string) => Effect.sync(() => process.stdout.write(text + "\n"))

const jsonOption = Options.boolean("json").pipe(Options.withDescription("print machine-readable JSON"))

const showCommand = Command.make("show", {
  home: homeOption,
  json: jsonOption,
  id: Args.text({ name: "ID" }).pipe(Args.withDescription("session id (see `hermes gateway sessions`)"))
}, ({ home, id, json }) =>
  Effect.gen(function*() {
    const transcript = (yield* ask(yield* resolvePaths(home), { op: "transcript", id })) as SessionTranscript
    if (json) return yield* print(JSON.stringify(transcript, null, 2))
    const s = transcript.session
    yield* print(`session ${s.id} (${s.platform}, key ${s.chatKey}, ${s.status}, ${s.messageCount} messages)`)
    for (const m of transcript.messages) {
      const turn = m.turnId === null ? "" : ` [turn ${m.turnId}${m.turnStatus !== null ? ` ${m.turnStatus}` : ""}]`
      yield* print(`${m.createdAt} #${m.seq} ${m.role}${turn}: ${m.content}`)
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
    yield* print(
      `session ${session.id} (${session.platform}, key ${session.chatKey}) is ${session.status}: it takes new messages again; ` +
        "a turn it had left to resume runs at the gateway's next start"
    )
  })).pipe(Command.withDescription(
    "Let a session the restart-loop breaker suspended (a turn in it was running in three lives that died) take messages again."
  ))

export const sessionsCommand = Command.make("sessions", { home: homeOption, json: jsonOption }, ({ home, json }) =>
  Effect.gen(function*() {
    const sessions = (yield* ask(yield* resolvePaths(home), { op: "sessions" })) as ReadonlyArray<SessionSummary>
    if (json) return yield* print(JSON.stringify(sessions, null, 2))
    if (sessions.length === 0) return yield* print("no sessions")
    yield* print(["id", "platform", "key", "messages", "last activity", "status"].join("\t"))
    for (const s of sessions) {
      yield* print([s.id, s.platform, s.user ?? s.chatKey, s.messageCount, s.lastActivity, s.status].join("\t"))
    }
  })).pipe(
    Command.withDescription("List conversations (id, platform, key, message count, last activity, status)."),
    Command.withSubcommands([showCommand, reactivateCommand])
  )
