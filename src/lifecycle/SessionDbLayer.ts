// Stack layer: the SessionDB, opened after the respawn backoff (with crash recovery when the
// previous life died) and released as phase 7, close_session_db, bounded by gateway.db_close_timeout.
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Stream from "effect/Stream"
import type { SessionDbService } from "../sessions/SessionDb.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import { HomeStore } from "../home/HomeStore.js"
import { SessionDatabase } from "../sessions/SessionDbService.js"
import { answerRawQuery } from "../sessions/SessionQueries.js"
import { SessionStore } from "../sessions/SessionStore.js"
import { sessionDbStartupError } from "./GatewayErrors.js"
import { LockedHome } from "./HomeLockLayer.js"
import { isoNow, Life } from "./Life.js"
import { PreviousLifeVerdict } from "./PreviousLifeLayer.js"
import { serveBackoff } from "./StartGate.js"
import { Watchdog } from "./Watchdog.js"

/**
 * A database shared by replicas: the state file names this replica and follows whether the
 * database is reachable (`storage`), for as long as the layer lives.
 */
const followSharedStorage = (db: SessionDbService, life: Context.Tag.Service<typeof Life>) => {
  const shared = db.shared
  if (shared === undefined) return Effect.void
  return Effect.zipRight(
    life.update((status) => ({ ...status, replicaId: shared.replicaId })),
    Effect.forkScoped(Effect.interruptible(
      Stream.runForEach(shared.health, (storage) => life.update((status) => ({ ...status, storage })))
    ))
  )
}

/** The wait a respawn storm earns, served where a stop ends it at once (inside the stoppable part). */
export const RespawnBackoffLayer = Layer.effectDiscard(Effect.gen(function*() {
  const { life, watchdog } = yield* Effect.all({ life: Life, watchdog: Watchdog })
  const { startVerdict } = yield* LockedHome
  yield* watchdog.phase("startup:respawn_backoff")
  yield* serveBackoff(startVerdict, life.settings.respawnStorm, life.settings.startupTimeout ?? Duration.minutes(5))
}))

export const SessionDbLayer = Layer.scoped(
  SessionDatabase,
  Effect.gen(function*() {
    const { life, store, watchdog, sessions, previousLife } = yield* Effect.all({
      life: Life, store: HomeStore, watchdog: Watchdog, sessions: SessionStore, previousLife: PreviousLifeVerdict
    })
    const { controlServer } = yield* LockedHome
    yield* watchdog.phase("startup:session_db")
    const db = yield* Effect.acquireRelease(
      sessions.open({
        previousLifeCrashed: previousLife.verdict === "died_without_shutdown",
        onRecovery: (report) =>
          Effect.gen(function*() {
            yield* Effect.logWarning(`session database recovered: ${JSON.stringify(report)}`)
            yield* store.appendLifecycle({ event: "session_db_recovery", at: yield* isoNow, ...report }).pipe(
              Effect.catchAll((error) => Effect.logWarning(error.message))
            )
          })
      }).pipe(Effect.mapError((error) => sessionDbStartupError(error.message, error.reason))),
      (db) => life.phase("close_session_db", life.settings.budget.dbClose)(db.close)
    )
    yield* followSharedStorage(db, life)
    // `hermes gateway sessions` asks us instead of opening the database a second time.
    const runtime = yield* Effect.runtime<never>()
    controlServer.serve((request) => Runtime.runPromise(runtime)(answerRawQuery(db)(request)))
    return db
  })
)
