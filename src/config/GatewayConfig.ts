// The shape of config.yaml (CONTRACT 7): one Schema holding every key, its default and its limits, so
// decoding, defaults, error messages and the HERMES_* override names all come from the same place.
import * as Duration from "effect/Duration"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { DurationFromString } from "./Duration.js"
import { boundsProblem, durationBounds } from "./DurationBounds.js"
import { budgetHoldsOneBody, requireAnAdapter, requireApiKeyOffLoopback, requireModelForOpenAi } from "./ConfigRules.js"

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

/** How a bad value is shown to a human: strings quoted, containers named rather than dumped. */
export const showValue = (value: unknown): string => {
  if (value === undefined) return "nothing"
  if (Array.isArray(value)) return "a list"
  if (typeof value === "object" && value !== null) return "a mapping"
  return typeof value === "string" ? JSON.stringify(value) : String(value)
}

/** The most specific reason a check gave (e.g. parseDuration's), if any, under transformations. */
const specificReason = (issue: ParseResult.ParseIssue): string | undefined => {
  switch (issue._tag) {
    case "Type":
    case "Forbidden":
      return issue.message
    case "Refinement":
    case "Transformation":
      return specificReason(issue.issue)
    default:
      return undefined
  }
}

/**
 * One message per leaf, whatever layer of the leaf failed: the default Effect messages talk about
 * schema internals ("Expected number, actual ..."), a config file's reader wants the allowed values.
 */
const expecting = (what: string) => ({
  message: (issue: ParseResult.ParseIssue) => ({
    override: true,
    message: specificReason(issue) ?? `expected ${what}, got ${showValue(issue.actual)}`
  })
})

/** YAML reads `drain_timeout: 20` as a number; it means what the text "20" means: seconds. */
const NumberAsText = Schema.transform(Schema.Number, Schema.String, {
  strict: true,
  decode: (n) => String(n),
  encode: (text) => Number(text)
})

/** Config durations: systemd syntax, finite and not negative (no key here has a use for "never"). */
const ConfigDuration = Schema.compose(Schema.Union(Schema.String, NumberAsText), DurationFromString).pipe(
  Schema.filter((d) => Duration.isFinite(d) || "infinity is not allowed here: give a finite duration such as 20s")
).annotations(expecting(`a duration such as "20s" or "1min 30s"`))

/**
 * A duration key with its bounds from the table in DurationBounds.ts (which says why each is what it
 * is): never near Node's timer limit, past which a deadline would fire at once.
 */
const BoundedDuration = (key: keyof typeof durationBounds) =>
  ConfigDuration.pipe(Schema.filter((d) => boundsProblem(d, durationBounds[key]) ?? true))

/** Also bounds starts.json: the history keeps enough starts to reach the backoff cap. */
const MaxStarts = Schema.Number.pipe(Schema.int(), Schema.between(1, 100)).annotations(
  expecting("an integer between 1 and 100")
)

const Port = Schema.Number.pipe(Schema.int(), Schema.between(0, 65535)).annotations(
  expecting("an integer between 0 and 65535")
)
const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive()).annotations(expecting("a positive integer"))
const NonNegativeInt = Schema.Number.pipe(Schema.int(), Schema.nonNegative()).annotations(
  expecting("a whole number, 0 or more")
)
const Flag = Schema.Boolean.annotations(expecting("true or false"))
const Host = Schema.String.pipe(Schema.minLength(1)).annotations(expecting("a host name or address"))
/**
 * One spelling for "no key": an empty string means the same as null. A key that begins or ends with
 * whitespace could never match: clients send it in an Authorization header, which is trimmed.
 */
/** What a bad secret was given as, never the value itself: an error message must not carry a key. */
const expectingSecret = (what: string) => ({
  message: (issue: ParseResult.ParseIssue) => ({
    override: true,
    message: `expected ${what}, got ${issue.actual === null ? "null" : Array.isArray(issue.actual) ? "a list" : `a ${typeof issue.actual === "object" ? "mapping" : typeof issue.actual}`}`
  })
})

const ApiKeyText = Schema.transform(Schema.NullOr(Schema.String), Schema.NullOr(Schema.String), {
  strict: true,
  decode: (key) => (key === "" ? null : key),
  encode: (key) => key
}).annotations(expectingSecret("a string or null")).pipe(
  Schema.filter((key) =>
    key === null || key.trim() === key ||
    "must not begin or end with whitespace: no client could send it in an Authorization header"
  )
)

/** The HTTP API key, Redacted from the moment it is read: logs, status and errors show <redacted>. */
const ApiKey = Schema.transform(ApiKeyText, Schema.NullOr(Schema.RedactedFromSelf(Schema.String)), {
  strict: true,
  decode: (key) => (key === null ? null : Redacted.make(key)),
  encode: (key) => (key === null ? null : Redacted.value(key))
})

/** An http(s) URL; a trailing slash is dropped so paths can be appended. */
const BaseUrl = Schema.transform(Schema.String, Schema.String, {
  strict: true,
  decode: (url) => url.trim().replace(/\/+$/, ""),
  encode: (url) => url
}).pipe(
  Schema.filter((url) => {
    try {
      const protocol = new URL(url).protocol
      return protocol === "http:" || protocol === "https:" || `must be an http:// or https:// URL, got ${JSON.stringify(url)}`
    } catch {
      return `must be an http:// or https:// URL, got ${JSON.stringify(url)}`
    }
  })
).annotations(expecting("an http:// or https:// URL"))
const Text = Schema.String.annotations(expecting("a string"))
/** An http(s) URL or null; an empty string means null too, so an empty variable turns it off. */
const OptionalUrl = Schema.transform(Schema.NullOr(Schema.String), Schema.NullOr(Schema.String), {
  strict: true,
  decode: (url) => (url === null || url.trim() === "" ? null : url.trim()),
  encode: (url) => url
}).pipe(
  Schema.filter((url) => url === null || Schema.is(BaseUrl)(url) || `must be an http:// or https:// URL, got ${JSON.stringify(url)}`)
).annotations(expecting("an http:// or https:// URL, or null"))
/** Free text or null; an empty string means null. */
const OptionalText = Schema.transform(Schema.NullOr(Schema.String), Schema.NullOr(Schema.String), {
  strict: true,
  decode: (text) => (text === null || text.trim() === "" ? null : text.trim()),
  encode: (text) => text
}).annotations(expecting("a string or null"))
/** An environment variable's name, or null (an empty string means null too). */
const VariableName = Schema.transform(Schema.NullOr(Schema.String), Schema.NullOr(Schema.String), {
  strict: true,
  decode: (name) => (name === null || name.trim() === "" ? null : name.trim()),
  encode: (name) => name
}).pipe(
  Schema.filter((name) =>
    name === null || /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ||
    `must be the name of an environment variable (letters, digits, _), got ${JSON.stringify(name)}`
  )
).annotations(expecting("the name of an environment variable, or null"))
/** An environment variable's name that must be given (no null). */
const RequiredVariableName = Schema.transform(Schema.String, Schema.String, {
  strict: true,
  decode: (name) => name.trim(),
  encode: (name) => name
}).pipe(
  Schema.filter((name) =>
    /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ||
    `must be the name of an environment variable (letters, digits, _), got ${JSON.stringify(name)}`
  )
).annotations(expecting("the name of an environment variable"))

/** One allowed user: a numeric user id, or a username (an optional leading @ is dropped). */
const allowedUser = (raw: unknown): number | string | undefined => {
  if (typeof raw === "number") return Number.isSafeInteger(raw) && raw > 0 ? raw : undefined
  if (typeof raw !== "string") return undefined
  const text = raw.trim()
  if (/^\d+$/.test(text)) return allowedUser(Number(text))
  const name = text.replace(/^@/, "")
  return /^[A-Za-z0-9_]{1,32}$/.test(name) ? name.toLowerCase() : undefined
}

/**
 * A list of user ids and usernames; a single value or a comma-separated string (what an
 * environment variable gives) are read as a list too.
 */
const AllowedUsers = Schema.transformOrFail(
  Schema.Union(Schema.Array(Schema.Unknown), Schema.String, Schema.Number),
  Schema.Array(Schema.Union(Schema.Number, Schema.String)),
  {
    strict: true,
    decode: (input, _, ast) => {
      const items: ReadonlyArray<unknown> = Array.isArray(input)
        ? input
        : typeof input === "string"
        ? input.split(",").map((item) => item.trim()).filter((item) => item !== "")
        : [input]
      const users: Array<number | string> = []
      for (const item of items) {
        const user = allowedUser(item)
        if (user === undefined) {
          return ParseResult.fail(
            new ParseResult.Type(
              ast,
              input,
              `expected Telegram user ids (positive integers) or usernames, got ${showValue(item)}`
            )
          )
        }
        users.push(user)
      }
      return ParseResult.succeed(users)
    },
    encode: (users) => ParseResult.succeed(users)
  }
).annotations(expecting("a list of Telegram user ids or usernames"))

const oneOf = <const L extends ReadonlyArray<string>>(...values: L) =>
  Schema.Literal(...values).annotations(expecting(`one of ${values.join(", ")}`))

const levels = ["trace", "debug", "info", "warning", "error", "fatal", "none"] as const
/** `warn` is accepted because it is what most loggers call it; the decoded value is always `warning`. */
const LogLevel = Schema.transform(Schema.Literal(...levels, "warn"), Schema.Literal(...levels), {
  strict: true,
  decode: (level) => (level === "warn" ? "warning" : level),
  encode: (level) => level
}).annotations(expecting(`one of ${levels.join(", ")} (or warn)`))

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
    max_context_messages: key(PositiveInt, () => 200)
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
