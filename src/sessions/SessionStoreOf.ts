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

/** The PostgreSQL settings when sessions.engine is postgres, else null. */
export const postgresSettingsOf = (
  config: GatewayConfig,
  env: Record<string, string | undefined>
): Effect.Effect<PostgresSettings | null, ConfigError> =>
  config.sessions.engine === "postgres"
    ? Either.match(postgresSettingsFrom(config.sessions.postgres, env), { onLeft: Effect.fail, onRight: Effect.succeed })
    : Effect.succeed(null)

/** `database` is `<home>/state.db`: SQLite's file, and with PostgreSQL the home's delivery log beside it. */
export const sessionStoreOf = (
  config: GatewayConfig,
  database: string,
  postgres: PostgresSettings | null
): Layer.Layer<SessionStore> =>
  postgres === null
    ? SessionStore.sqliteWorker(database, { maxContextMessages: config.sessions.max_context_messages })
    : SessionStore.postgres(postgres, {
      deliveryLogFile: deliveryLogFile(database),
      maxContextMessages: config.sessions.max_context_messages
    })
