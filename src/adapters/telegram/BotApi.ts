// A thin Telegram Bot API client: POST `${base}/bot${token}/METHOD` with a JSON body. Every answer is
// decoded with Schema (the envelope, then the result), and every failure is a typed error that says
// whether (and when) the call is worth repeating. The token is part of every URL, so no URL, no
// transport message and no trace span ever carries it; it is held as a Redacted from the boundary on.
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { formatDuration } from "../../config/Duration.js"

interface Failure {
  readonly method: string
  /** HTTP status, or 0 when the API was not reached (network error, timeout). */
  readonly status: number
  readonly message: string
}

/** Not reached, timed out, or 5xx: may clear up by itself. */
export class BotApiTransient extends Data.TaggedError("BotApiTransient")<Failure> {}
/** 429: Telegram said how long to wait (`parameters.retry_after`), or not. */
export class BotApiRateLimited extends Data.TaggedError("BotApiRateLimited")<Failure & {
  readonly retryAfter: Duration.Duration | undefined
}> {}
/** 409: another getUpdates poller or a webhook holds the bot. */
export class BotApiConflict extends Data.TaggedError("BotApiConflict")<Failure> {}
/** Any other 4xx: this request will never succeed (bad token, blocked by the user, bad message). */
export class BotApiPermanent extends Data.TaggedError("BotApiPermanent")<Failure> {}
/** The answer was not what the Bot API documents (a proxy's HTML page, a result of the wrong shape). */
export class BotApiMalformed extends Data.TaggedError("BotApiMalformed")<Failure> {}

export type BotApiError = BotApiTransient | BotApiRateLimited | BotApiConflict | BotApiPermanent | BotApiMalformed

/** Worth the same request again later: the Bot API was down, busy or garbled, not refusing. */
export const isTransient = (error: BotApiError): boolean =>
  error._tag === "BotApiTransient" || error._tag === "BotApiRateLimited" || error._tag === "BotApiMalformed"

/** The token itself was refused (401 Unauthorized; 404 is what a malformed token gets). */
export const isTokenRejected = (error: BotApiError): boolean =>
  error._tag === "BotApiPermanent" && (error.status === 401 || error.status === 404)

export const TelegramUser = Schema.Struct({
  id: Schema.Number,
  is_bot: Schema.optional(Schema.Boolean),
  username: Schema.optional(Schema.String),
  first_name: Schema.optional(Schema.String)
})
export type TelegramUser = typeof TelegramUser.Type

/** The part of an incoming message the gateway reads; `text` is checked by the caller (absent: not text). */
export const TelegramMessage = Schema.Struct({
  chat: Schema.Struct({ id: Schema.Number }),
  from: Schema.optional(TelegramUser),
  text: Schema.optional(Schema.Unknown)
})
export type TelegramMessage = typeof TelegramMessage.Type

/** One update; its message is decoded on its own so one odd message cannot stall the whole batch. */
export const TelegramUpdate = Schema.Struct({
  update_id: Schema.Number.pipe(Schema.int()),
  message: Schema.optional(Schema.Unknown)
})
export type TelegramUpdate = typeof TelegramUpdate.Type

/** getUpdates' result: decoded element by element by the poller. */
export const UpdateBatch = Schema.Array(Schema.Unknown)

/** sendMessage's result, as far as the placeholder needs it. */
export const SentMessage = Schema.Struct({ message_id: Schema.Number.pipe(Schema.int(), Schema.positive()) })

/** Every Bot API answer: `{ ok, result }` or `{ ok: false, error_code, description, parameters }`. */
export const Envelope = Schema.Struct({
  ok: Schema.Boolean,
  result: Schema.optional(Schema.Unknown),
  error_code: Schema.optional(Schema.Number),
  description: Schema.optional(Schema.String),
  parameters: Schema.optional(Schema.Struct({ retry_after: Schema.optional(Schema.Number) }))
})
export type Envelope = typeof Envelope.Type

/** The first thing wrong with a decoded value, in one short line (a proxy's page can be long). */
const firstIssue = (error: ParseResult.ParseError): string => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  const text = issue === undefined ? "unreadable" : `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`
  return text.length > 160 ? `${text.slice(0, 159)}…` : text
}

/** How an answer that is not a success reads as an error. */
export const failureOf = (method: string, httpStatus: number, envelope: Envelope | undefined): BotApiError => {
  const status = httpStatus >= 200 && httpStatus < 300 ? (envelope?.error_code ?? 500) : httpStatus
  const description = envelope?.description ?? `HTTP ${status}`
  const fields = { method, status, message: `${method} failed: ${status} ${description}` }
  if (status === 429) {
    const seconds = envelope?.parameters?.retry_after
    const retryAfter = seconds !== undefined && Number.isFinite(seconds) && seconds >= 0 ? Duration.seconds(seconds) : undefined
    return new BotApiRateLimited({ ...fields, retryAfter })
  }
  if (status === 409) return new BotApiConflict(fields)
  if (status >= 400 && status < 500) return new BotApiPermanent(fields)
  return new BotApiTransient(fields)
}

/**
 * Decodes one answer: the HTTP status and the body already parsed as JSON (undefined when it was
 * not JSON) into the result, or the typed error. Pure, so malformed answers are tested directly.
 */
export const decodeAnswer = <A, I>(
  method: string,
  httpStatus: number,
  body: unknown,
  result: Schema.Schema<A, I>
): Either.Either<A, BotApiError> => {
  const success = httpStatus >= 200 && httpStatus < 300
  const envelope = Schema.decodeUnknownEither(Envelope)(body)
  if (Either.isLeft(envelope)) {
    if (!success) return Either.left(failureOf(method, httpStatus, undefined))
    return Either.left(new BotApiMalformed({
      method,
      status: httpStatus,
      message: `${method}: the Telegram Bot API answered with a malformed response (${firstIssue(envelope.left)})`
    }))
  }
  if (!success || !envelope.right.ok) return Either.left(failureOf(method, httpStatus, envelope.right))
  return Either.mapLeft(
    Schema.decodeUnknownEither(result)(envelope.right.result),
    (error) =>
      new BotApiMalformed({
        method,
        status: httpStatus,
        message: `${method}: the Telegram Bot API answered with an unexpected result (${firstIssue(error)})`
      })
  )
}

export interface BotApi {
  readonly call: <A, I>(
    method: string,
    params: Record<string, unknown>,
    result: Schema.Schema<A, I>,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<A, BotApiError>
}

const transportReason = (error: unknown): string => {
  // RequestError's message may embed the URL (and so the token): use only its reason and the
  // underlying system error code.
  const reason = typeof error === "object" && error !== null && "reason" in error ? String(error.reason) : "Transport"
  let cause: unknown = typeof error === "object" && error !== null && "cause" in error ? error.cause : undefined
  for (let depth = 0; depth < 4 && cause !== undefined && cause !== null; depth++) {
    const code = (cause as { code?: unknown }).code
    if (typeof code === "string") return `${reason} error (${code})`
    cause = (cause as { cause?: unknown }).cause
  }
  return `${reason} error`
}

/** A token from config may still arrive as a plain string: from here on it is only ever a Redacted. */
export const redactToken = (token: Redacted.Redacted<string> | string): Redacted.Redacted<string> =>
  Redacted.isRedacted(token) ? token : Redacted.make(token)

export const makeBotApi = (options: {
  readonly baseUrl: string
  readonly token: Redacted.Redacted<string> | string
  /** Bound on every call but those given their own. */
  readonly timeout: Duration.DurationInput
}): Effect.Effect<BotApi, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    // A span's url.full would carry the token: Bot API requests are never traced.
    const client = HttpClient.withTracerDisabledWhen(yield* HttpClient.HttpClient, () => true)
    const token = redactToken(options.token)
    const base = options.baseUrl.replace(/\/+$/, "")
    const call = <A, I>(method: string, params: Record<string, unknown>, result: Schema.Schema<A, I>, timeout?: Duration.DurationInput) => {
      const bound = Duration.decode(timeout ?? options.timeout)
      return Effect.gen(function*() {
        const request = HttpClientRequest.post(`${base}/bot${Redacted.value(token)}/${method}`).pipe(
          HttpClientRequest.bodyUnsafeJson(params)
        )
        const response = yield* client.execute(request).pipe(
          Effect.mapError((error) =>
            new BotApiTransient({ method, status: 0, message: `cannot reach the Telegram Bot API at ${base}: ${transportReason(error)}` })
          )
        )
        const body = yield* response.json.pipe(Effect.orElseSucceed(() => undefined))
        return yield* decodeAnswer(method, response.status, body, result)
      }).pipe(
        Effect.scoped,
        Effect.timeoutFail({
          duration: bound,
          onTimeout: () =>
            new BotApiTransient({ method, status: 0, message: `${method}: the Telegram Bot API did not answer within ${formatDuration(bound)}` })
        })
      )
    }
    return { call }
  })
