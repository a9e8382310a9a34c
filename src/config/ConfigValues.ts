// The kinds of value config.yaml holds (durations, ports, URLs, secrets, user lists, ...): each a
// Schema with the message a human sees when a value is not of that kind. GatewayConfig.ts puts
// them together into the one schema of every key.
import * as Duration from "effect/Duration"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { DurationFromString } from "./Duration.js"
import { boundsProblem, durationBounds } from "./DurationBounds.js"

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
export const BoundedDuration = (key: keyof typeof durationBounds) =>
  ConfigDuration.pipe(Schema.filter((d) => boundsProblem(d, durationBounds[key]) ?? true))

/** Also bounds starts.json: the history keeps enough starts to reach the backoff cap. */
export const MaxStarts = Schema.Number.pipe(Schema.int(), Schema.between(1, 100)).annotations(
  expecting("an integer between 1 and 100")
)

/** Connections to PostgreSQL: one is enough to work, beyond 100 a server's default max_connections is gone. */
export const PoolSize = Schema.Number.pipe(Schema.int(), Schema.between(1, 100)).annotations(
  expecting("an integer between 1 and 100")
)

export const Port = Schema.Number.pipe(Schema.int(), Schema.between(0, 65535)).annotations(
  expecting("an integer between 0 and 65535")
)
export const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive()).annotations(expecting("a positive integer"))
export const NonNegativeInt = Schema.Number.pipe(Schema.int(), Schema.nonNegative()).annotations(
  expecting("a whole number, 0 or more")
)
export const Flag = Schema.Boolean.annotations(expecting("true or false"))
export const Host = Schema.String.pipe(Schema.minLength(1)).annotations(expecting("a host name or address"))
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
export const ApiKey = Schema.transform(ApiKeyText, Schema.NullOr(Schema.RedactedFromSelf(Schema.String)), {
  strict: true,
  decode: (key) => (key === null ? null : Redacted.make(key)),
  encode: (key) => (key === null ? null : Redacted.value(key))
})

/** An http(s) URL; a trailing slash is dropped so paths can be appended. */
export const BaseUrl = Schema.transform(Schema.String, Schema.String, {
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
export const Text = Schema.String.annotations(expecting("a string"))
/** An http(s) URL or null; an empty string means null too, so an empty variable turns it off. */
export const OptionalUrl = Schema.transform(Schema.NullOr(Schema.String), Schema.NullOr(Schema.String), {
  strict: true,
  decode: (url) => (url === null || url.trim() === "" ? null : url.trim()),
  encode: (url) => url
}).pipe(
  Schema.filter((url) => url === null || Schema.is(BaseUrl)(url) || `must be an http:// or https:// URL, got ${JSON.stringify(url)}`)
).annotations(expecting("an http:// or https:// URL, or null"))
/** Free text or null; an empty string means null. */
export const OptionalText = Schema.transform(Schema.NullOr(Schema.String), Schema.NullOr(Schema.String), {
  strict: true,
  decode: (text) => (text === null || text.trim() === "" ? null : text.trim()),
  encode: (text) => text
}).annotations(expecting("a string or null"))
/** An environment variable's name, or null (an empty string means null too). */
export const VariableName = Schema.transform(Schema.NullOr(Schema.String), Schema.NullOr(Schema.String), {
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
export const RequiredVariableName = Schema.transform(Schema.String, Schema.String, {
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
export const AllowedUsers = Schema.transformOrFail(
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

export const oneOf = <const L extends ReadonlyArray<string>>(...values: L) =>
  Schema.Literal(...values).annotations(expecting(`one of ${values.join(", ")}`))

const levels = ["trace", "debug", "info", "warning", "error", "fatal", "none"] as const
/** `warn` is accepted because it is what most loggers call it; the decoded value is always `warning`. */
export const LogLevel = Schema.transform(Schema.Literal(...levels, "warn"), Schema.Literal(...levels), {
  strict: true,
  decode: (level) => (level === "warn" ? "warning" : level),
  encode: (level) => level
}).annotations(expecting(`one of ${levels.join(", ")} (or warn)`))
