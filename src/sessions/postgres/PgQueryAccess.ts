// The CLI's way into a PostgreSQL SessionDB when this home's gateway is not running
// (`hermes gateway sessions`, `show`, `reactivate`, `prune`): other replicas may be using the
// database meanwhile, so this opens no lease, recovers no turn and never migrates: it connects,
// requires the schema this binary writes, runs the one query, and closes. Errors name the database
// as user@host:port/database, never its URL or password.
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { makeDeliveryLog } from "../DeliveryLog.js"
import { SessionDbError, type SessionDbService } from "../SessionDb.js"
import { defaultRequestResponsePlatforms, makeTurnJournal } from "../TurnJournal.js"
import { makePgConnection } from "./PgConnection.js"
import { scrub } from "./PgFailure.js"
import { latestSchemaVersion, recordedSchemaVersion } from "./PgMigrations.js"
import { newerSchemaError, squashed, startupError } from "./PgSessionStore.js"
import { describeTarget, type PostgresSettings } from "./PostgresSettings.js"

/** Pure: why a database at `found` cannot be queried by this binary (it knows `known`), if it cannot. */
export const queryableSchemaProblem = (target: string, found: number, known: number): SessionDbError | null => {
  if (found > known) return newerSchemaError(target, found, known)
  if (found === known) return null
  return new SessionDbError({
    message: found === 0
      ? `no sessions yet: PostgreSQL ${target} holds no session schema (a gateway creates it at its first start)`
      : `PostgreSQL ${target} holds session schema version ${found}; this gateway reads ${known}: start a gateway of ` +
        "this version once to migrate it (the CLI never migrates a database replicas may be using)",
    reason: found === 0 ? "missing" : "refused"
  })
}

export const withPostgresSessionQueries = <A, E, R>(
  settings: PostgresSettings,
  deliveryLogFile: string,
  use: (db: SessionDbService) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | SessionDbError, R> =>
  Effect.scoped(Effect.gen(function*() {
    const target = describeTarget(settings.target)
    const connection = yield* Effect.acquireRelease(makePgConnection(settings), (c) => Effect.ignore(c.close)).pipe(
      Effect.tap((c) => c.probe),
      Effect.tap((c) =>
        Effect.flatMap(Effect.provideService(recordedSchemaVersion, SqlClient.SqlClient, c.sql), (found) => {
          const problem = queryableSchemaProblem(target, found, latestSchemaVersion)
          return problem === null ? Effect.void : Effect.fail(problem)
        })
      ),
      squashed,
      Effect.mapError(startupError(settings))
    )
    const journal = makeTurnJournal(connection, {
      requestResponsePlatforms: defaultRequestResponsePlatforms,
      deliveryLog: makeDeliveryLog(deliveryLogFile)
    })
    return yield* use(journal)
  })).pipe(Effect.mapError((error) =>
    error instanceof SessionDbError
      ? new SessionDbError({ message: scrub(error.message, settings.url), ...(error.reason === undefined ? {} : { reason: error.reason }) })
      : error
  ))
