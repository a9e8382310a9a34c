// sessions.engine -> the SessionStore a gateway run opens: SQLite at `<home>/state.db`, or the
// PostgreSQL database the variable sessions.postgres.url_env names (checked before anything starts,
// so a missing or malformed URL exits 78 at once, naming the variable and never its value).
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import type { GatewayConfig } from "../config/GatewayConfig.js"
import type { ConfigError } from "../config/LoadConfig.js"
import { deliveryLogFile } from "./DeliveryLog.js"
import { type PostgresSettings, postgresSettingsFrom } from "./postgres/PostgresSettings.js"
import { SessionStore } from "./SessionStore.js"
import { type ReplicaSettings, replicaSettingsFrom } from "../replicas/ReplicaSettings.js"
import { realpathSync } from "node:fs"
import { hostname } from "node:os"
import * as path from "node:path"

/** The PostgreSQL settings when sessions.engine is postgres, else null. */
export const postgresSettingsOf = (
  config: GatewayConfig,
  env: Record<string, string | undefined>
): Effect.Effect<PostgresSettings | null, ConfigError> =>
  config.sessions.engine === "postgres"
    ? Either.match(postgresSettingsFrom(config.sessions.postgres, env), { onLeft: Effect.fail, onRight: Effect.succeed })
    : Effect.succeed(null)

/**
 * Who this gateway is among the replicas sharing the database when sessions.engine is postgres
 * (else null): sessions.postgres.replica_id, or the host name plus a hash of the resolved home.
 */
export const replicaSettingsOf = (config: GatewayConfig, home: string): Effect.Effect<ReplicaSettings | null, ConfigError> =>
  config.sessions.engine !== "postgres" ? Effect.succeed(null) : Effect.suspend(() => {
    let resolved = path.resolve(home)
    try {
      resolved = realpathSync(resolved)
    } catch {
      // The home exists by now (ensureHome); a failure here only costs the link's resolution.
    }
    return Either.match(replicaSettingsFrom(config.sessions.postgres, { hostname: hostname(), home: resolved }), {
      onLeft: Effect.fail,
      onRight: Effect.succeed
    })
  })

/** `database` is `<home>/state.db`: SQLite's file, and with PostgreSQL the home's delivery log beside it. */
export const sessionStoreOf = (
  config: GatewayConfig,
  database: string,
  postgres: PostgresSettings | null,
  replica: ReplicaSettings | null = null
): Layer.Layer<SessionStore> =>
  postgres === null
    ? SessionStore.sqliteWorker(database, { maxContextMessages: config.sessions.max_context_messages })
    : SessionStore.postgres(postgres, {
      deliveryLogFile: deliveryLogFile(database),
      maxContextMessages: config.sessions.max_context_messages,
      ...(replica === null ? {} : { replica })
    })
