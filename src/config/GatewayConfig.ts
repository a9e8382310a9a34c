// The shape of config.yaml (CONTRACT 7): one Schema holding every key, its default and its limits, so
// decoding, defaults, error messages and the HERMES_* override names all come from the same place.
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { budgetHoldsOneBody, requireAnAdapter, requireApiKeyOffLoopback, requireModelForOpenAi } from "./ConfigRules.js"
import { AllowedUsers, ApiKey, BaseUrl, BoundedDuration, Flag, Host, LogLevel, MaxStarts, NonNegativeInt, oneOf, PoolSize, OptionalText, OptionalUrl, Port, PositiveInt, RequiredVariableName, Text, VariableName } from "./ConfigValues.js"

export { showValue } from "./ConfigValues.js"

export interface GatewayConfig {
  readonly gateway: {
    readonly drain_timeout: Duration.Duration
    readonly adapter_connect_timeout: Duration.Duration
    readonly adapter_disconnect_timeout: Duration.Duration
    readonly db_close_timeout: Duration.Duration
    readonly marker_ttl: Duration.Duration
    /** No event-loop heartbeat for this long: diagnostic report, record, exit 75. 0 turns it off. */
    readonly loop_stall_timeout: Duration.Duration
    /**
     * Push platforms: a turn cut short by a restart is run again when the gateway is back within
     * this long of the message; an older one is reported to its chat as not answered. 0 never
     * runs them again.
     */
    readonly resume_window: Duration.Duration
    /** Lock to ready longer than this: record, exit 75. 0 turns it off. */
    readonly startup_timeout: Duration.Duration
    /**
     * Turns running at once; a new message beyond it is refused at once (HTTP 429 + Retry-After;
     * Telegram takes no more updates until a turn ends). 0: no limit.
     */
    readonly max_inflight_turns: number
    /** More than max_starts starts within window: the next start waits first (window 0: off). */
    readonly respawn_storm: { readonly max_starts: number; readonly window: Duration.Duration }
  }
  readonly sessions: {
    /**
     * Finished sessions whose last activity is older than this are pruned by the running gateway
     * once a day (SessionHousekeeping.ts says which are finished). 0: kept for ever (the default).
     */
    readonly retention: Duration.Duration
    /**
     * The most messages of a session a turn reads and hands to its agent: the session's first
     * system messages, then the newest. Bounds a turn's cost whatever the session's length.
     */
    readonly max_context_messages: number
    /** Where sessions live: `<home>/state.db` (sqlite), or a PostgreSQL database (postgres). */
    readonly engine: "sqlite" | "postgres"
    readonly postgres: {
      /** The NAME of the environment variable holding the connection URL (required set when engine is postgres). */
      readonly url_env: string
      /**
       * Connections to PostgreSQL at most. A gateway's journal transactions run one at a time, so
       * a few are plenty: one for them, one for reconnect probes, spares for a slow release.
       */
      readonly pool_size: number
      /** A statement running longer than this is cancelled by the server and its operation fails. */
      readonly statement_timeout: Duration.Duration
      /** This replica's name among those sharing the database; null: host name + hash of the home. */
      readonly replica_id: string | null
      /** How long a renewed lease keeps this replica's running turns its own (database clock). */
      readonly lease: Duration.Duration
      /** How often the lease is renewed and other replicas' expired turns are looked for. */
      readonly lease_renew_every: Duration.Duration
    }
  }
  readonly adapters: {
    readonly http: {
      readonly enabled: boolean
      readonly host: string
      readonly port: number
      readonly api_key: Redacted.Redacted<string> | null
      readonly max_body_bytes: number
      /** Connections open at once; beyond it new ones are closed at once (logged once per episode). */
      readonly max_connections: number
      /** A request's headers and body must have arrived within this long (else 408, closed). */
      readonly request_timeout: Duration.Duration
      /** Memory all request bodies being received may hold together; beyond it 503 + Retry-After. */
      readonly max_inflight_body_bytes: number
    }
    readonly telegram: {
      readonly enabled: boolean
      /** The NAME of the environment variable holding the bot token (required set when enabled). */
      readonly token_env: string
      /** Bot API server, e.g. a local telegram-bot-api; no trailing slash. */
      readonly api_base_url: string
      /** How long one getUpdates long poll waits for news (whole seconds, 1s to 50s). */
      readonly poll_timeout: Duration.Duration
      /**
       * Who may talk to the bot: numeric Telegram user ids or usernames (without @, lower-cased).
       * Empty means everyone who finds the bot. Others get a polite refusal and no turn.
       */
      readonly allowed_users: ReadonlyArray<number | string>
    }
  }
  readonly agent: {
    readonly kind: "echo" | "openai"
    readonly echo: { readonly delay: Duration.Duration }
    readonly openai: {
      /** Up to and including the API version, e.g. http://127.0.0.1:11434/v1 (no /chat/completions). */
      readonly base_url: string
      /** Required (non-empty) when kind is openai. */
      readonly model: string
      /** The NAME of the environment variable holding the API key; null sends no key. */
      readonly api_key_env: string | null
      /** Limit on getting the response and on every gap between streamed chunks. */
      readonly timeout: Duration.Duration
      /** The most transcript messages sent per turn (system messages first, then the newest). */
      readonly max_context_messages: number
    }
  }
  readonly telemetry: {
    /**
     * OTLP/HTTP collector to send traces to (e.g. http://127.0.0.1:4318; `/v1/traces` is appended).
     * null: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT decide, else no traces.
     */
    readonly otlp_endpoint: string | null
    /** The traces' service.name; null: OTEL_SERVICE_NAME, else "hermes-gateway". */
    readonly service_name: string | null
  }
  readonly log: {
    readonly format: "auto" | "pretty" | "logfmt" | "json"
    readonly level: "trace" | "debug" | "info" | "warning" | "error" | "fatal" | "none"
  }
}

/** An optional key: absent or null means the default. */
const key = <A, I>(schema: Schema.Schema<A, I>, value: () => A) =>
  Schema.optionalWith(schema, { nullable: true, default: value })

/** An optional section: absent, null or empty means every default inside it. */
const section = <S extends Schema.Schema.AnyNoContext>(struct: S) =>
  Schema.optionalWith(struct, { nullable: true, default: () => Schema.decodeUnknownSync(struct)({}) })

const seconds = (n: number) => () => Duration.seconds(n)

const ConfigFields = Schema.Struct({
  gateway: section(Schema.Struct({
    drain_timeout: key(BoundedDuration("gateway.drain_timeout"), seconds(20)),
    adapter_connect_timeout: key(BoundedDuration("gateway.adapter_connect_timeout"), seconds(30)),
    adapter_disconnect_timeout: key(BoundedDuration("gateway.adapter_disconnect_timeout"), seconds(5)),
    db_close_timeout: key(BoundedDuration("gateway.db_close_timeout"), seconds(5)),
    marker_ttl: key(BoundedDuration("gateway.marker_ttl"), seconds(60)),
    loop_stall_timeout: key(BoundedDuration("gateway.loop_stall_timeout"), seconds(60)),
    resume_window: key(BoundedDuration("gateway.resume_window"), seconds(3600)),
    startup_timeout: key(BoundedDuration("gateway.startup_timeout"), seconds(300)),
    max_inflight_turns: key(NonNegativeInt, () => 64),
    respawn_storm: section(Schema.Struct({
      max_starts: key(MaxStarts, () => 5),
      window: key(BoundedDuration("gateway.respawn_storm.window"), seconds(120))
    }))
  })),
  sessions: section(Schema.Struct({
    retention: key(BoundedDuration("sessions.retention"), () => Duration.zero),
    max_context_messages: key(PositiveInt, () => 200),
    engine: key(oneOf("sqlite", "postgres"), () => "sqlite" as const),
    postgres: section(Schema.Struct({
      url_env: key(RequiredVariableName, () => "DATABASE_URL"),
      pool_size: key(PoolSize, () => 4),
      statement_timeout: key(BoundedDuration("sessions.postgres.statement_timeout"), seconds(30)),
      replica_id: key(OptionalText, () => null),
      lease: key(BoundedDuration("sessions.postgres.lease"), seconds(15)),
      lease_renew_every: key(BoundedDuration("sessions.postgres.lease_renew_every"), seconds(5))
    }))
  })),
  adapters: section(Schema.Struct({
    http: section(Schema.Struct({
      enabled: key(Flag, () => true),
      host: key(Host, () => "127.0.0.1"),
      port: key(Port, () => 8642),
      api_key: key(ApiKey, () => null),
      max_body_bytes: key(PositiveInt, () => 1_048_576),
      // Half of the usual 1024 open files a process may have, leaving the rest to the database,
      // logs, Telegram and the agent; a few hundred idle sockets cost a few MiB.
      max_connections: key(PositiveInt, () => 512),
      request_timeout: key(BoundedDuration("adapters.http.request_timeout"), seconds(30)),
      max_inflight_body_bytes: key(PositiveInt, () => 64 * 1_048_576)
    })),
    telegram: section(Schema.Struct({
      enabled: key(Flag, () => false),
      token_env: key(RequiredVariableName, () => "TELEGRAM_BOT_TOKEN"),
      api_base_url: key(BaseUrl, () => "https://api.telegram.org"),
      poll_timeout: key(BoundedDuration("adapters.telegram.poll_timeout"), seconds(30)),
      allowed_users: key(AllowedUsers, () => [])
    }))
  })),
  agent: section(Schema.Struct({
    kind: key(oneOf("echo", "openai"), () => "echo" as const),
    echo: section(Schema.Struct({
      delay: key(BoundedDuration("agent.echo.delay"), seconds(0))
    })),
    openai: section(Schema.Struct({
      base_url: key(BaseUrl, () => "http://127.0.0.1:11434/v1"),
      model: key(Text, () => ""),
      api_key_env: key(VariableName, () => null),
      timeout: key(BoundedDuration("agent.openai.timeout"), seconds(60)),
      max_context_messages: key(PositiveInt, () => 40)
    }))
  })),
  telemetry: section(Schema.Struct({
    otlp_endpoint: key(OptionalUrl, () => null),
    service_name: key(OptionalText, () => null)
  })),
  log: section(Schema.Struct({
    format: key(oneOf("auto", "pretty", "logfmt", "json"), () => "auto" as const),
    level: key(LogLevel, () => "info" as const)
  }))
})

// Importers of the loopback rule keep reading it from here.
export { isLoopbackHost } from "./ConfigRules.js"

export const GatewayConfig = ConfigFields.pipe(
  Schema.filter((config) => [requireApiKeyOffLoopback(config), requireModelForOpenAi(config), requireAnAdapter(config)]),
  Schema.filter(budgetHoldsOneBody)
)

// The interface above is what other modules are written against; fail the build if the schema drifts.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const schemaMatchesInterface: Same<Schema.Schema.Type<typeof GatewayConfig>, GatewayConfig> = true
void schemaMatchesInterface

/** Every value when nothing is configured. */
export const defaultConfig: GatewayConfig = Schema.decodeUnknownSync(GatewayConfig)({})
