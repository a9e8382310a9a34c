// The doctor's check of the session database when it lives in PostgreSQL: what `run` would meet at
// start-up, found without changing anything. The variable that holds the URL is set and parses; the
// server answers and takes these credentials; the schema it holds is one this binary knows (older is
// fine: `run` migrates it). Read-only: no migration, no recovery, no lock — replicas may be using
// the database while the doctor looks. Never prints the URL or the password.
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { GatewayConfig } from "../config/GatewayConfig.js"
import { describeStartupFailure } from "../sessions/postgres/PgFailure.js"
import { latestSchemaVersion, recordedSchemaVersion } from "../sessions/postgres/PgMigrations.js"
import { describeTarget, postgresSettingsFrom, type PostgresSettings } from "../sessions/postgres/PostgresSettings.js"
import type { Finding } from "./DoctorFinding.js"
import { escapeControls } from "./TerminalText.js"

const check = "sessions"

/** Pure: what a recorded schema version means for this binary. */
export const schemaFinding = (target: string, found: number, known: number): Finding =>
  found > known
    ? {
      verdict: "fail",
      check,
      detail: `PostgreSQL ${target} holds session schema version ${found}, newer than this gateway knows (${known}): ` +
        "`run` would exit 78; run the newer gateway"
    }
    : found === known
    ? { verdict: "ok", check, detail: `PostgreSQL ${target} answered; session schema version ${found} (current)` }
    : {
      verdict: "ok",
      check,
      detail: found === 0
        ? `PostgreSQL ${target} answered; no session schema yet: \`run\` creates version ${known}`
        : `PostgreSQL ${target} answered; session schema version ${found}: \`run\` migrates it to ${known}`
    }

/** One round trip and the schema version, over a pool closed again whatever happens. */
const probe = (settings: PostgresSettings): Effect.Effect<Finding> =>
  Effect.scoped(Effect.gen(function*() {
    // Loaded only here: the PostgreSQL driver stays out of every other command's start-up.
    const { makePgConnection } = yield* Effect.promise(() => import("../sessions/postgres/PgConnection.js"))
    const connection = yield* Effect.acquireRelease(makePgConnection(settings), (c) => Effect.ignore(c.close))
    yield* connection.probe
    const found = yield* Effect.provideService(recordedSchemaVersion, SqlClient.SqlClient, connection.sql)
    return schemaFinding(describeTarget(settings.target), found, latestSchemaVersion)
  })).pipe(
    Effect.catchAll((error): Effect.Effect<Finding> =>
      Effect.succeed({ verdict: "fail", check, detail: describeStartupFailure(error, settings.target, settings.url) })
    ),
    Effect.map((finding) => ({ ...finding, detail: escapeControls(finding.detail) }))
  )

/** Nothing for SQLite (the home checks cover its file); for PostgreSQL, one finding. */
export const sessionFindings = (
  config: GatewayConfig,
  env: Record<string, string | undefined>
): Effect.Effect<ReadonlyArray<Finding>> => {
  if (config.sessions.engine !== "postgres") return Effect.succeed([])
  return Either.match(postgresSettingsFrom(config.sessions.postgres, env), {
    onLeft: (error) => Effect.succeed([{ verdict: "fail" as const, check, detail: error.message }]),
    onRight: (settings) => Effect.map(probe(settings), (finding) => [finding])
  })
}
