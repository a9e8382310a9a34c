// A thin Telegram Bot API client: POST `${base}/bot${token}/METHOD` with a JSON body, decoded
// into the result or a BotApiError that says whether (and when) the call is worth retrying.
// The token is part of every URL, so no URL and no transport message is ever put in an error.
import { formatDuration } from "../../config/Duration.js"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

export class BotApiError extends Data.TaggedError("BotApiError")<{
  readonly method: string
  /** HTTP status, or 0 when the API was not reached (network error, timeout). */
  readonly status: number
  readonly message: string
  /** Seconds Telegram asked us to wait (429 `parameters.retry_after`). */
  readonly retryAfter?: number | undefined
}> {
  /** 429, 5xx and transport errors may clear up by themselves. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500
  }
  /** The token itself was refused (401 Unauthorized; 404 is what a malformed token gets). */
  get tokenRejected(): boolean {
    return this.status === 401 || this.status === 404
  }
}

export interface TelegramUser {
  readonly id: number
  readonly is_bot?: boolean
  readonly username?: string
  readonly first_name?: string
}

export interface TelegramMessage {
  readonly message_id: number
  readonly chat: { readonly id: number; readonly type?: string }
  readonly from?: TelegramUser
  readonly text?: string
}

export interface TelegramUpdate {
  readonly update_id: number
  readonly message?: TelegramMessage
}

export interface BotApi {
  readonly call: <A>(
    method: string,
    params: Record<string, unknown>,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<A, BotApiError>
}

interface Envelope {
  readonly ok?: boolean
  readonly result?: unknown
  readonly error_code?: number
  readonly description?: string
  readonly parameters?: { readonly retry_after?: number }
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

export const makeBotApi = (options: {
  readonly baseUrl: string
  readonly token: Redacted.Redacted<string>
  /** Bound on every call but those given their own. */
  readonly timeout: Duration.DurationInput
}): Effect.Effect<BotApi, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const base = options.baseUrl.replace(/\/+$/, "")
    const call = <A>(method: string, params: Record<string, unknown>, timeout?: Duration.DurationInput) =>
      Effect.gen(function*() {
        const request = HttpClientRequest.post(`${base}/bot${Redacted.value(options.token)}/${method}`).pipe(
          HttpClientRequest.bodyUnsafeJson(params)
        )
        const failure = (status: number, message: string, retryAfter?: number) =>
          new BotApiError({ method, status, message, retryAfter })
        const response = yield* client.execute(request).pipe(
          Effect.mapError((error) => failure(0, `cannot reach the Telegram Bot API at ${base}: ${transportReason(error)}`))
        )
        const body = yield* response.json.pipe(Effect.orElseSucceed(() => ({}) as unknown))
        const envelope = (typeof body === "object" && body !== null ? body : {}) as Envelope
        if (response.status >= 200 && response.status < 300 && envelope.ok === true) return envelope.result as A
        const status = response.status >= 200 && response.status < 300 ? (envelope.error_code ?? 500) : response.status
        const retryAfter = typeof envelope.parameters?.retry_after === "number" ? envelope.parameters.retry_after : undefined
        const description = typeof envelope.description === "string" ? envelope.description : `HTTP ${status}`
        return yield* Effect.fail(failure(status, `${method} failed: ${status} ${description}`, retryAfter))
      }).pipe(
        Effect.scoped,
        Effect.timeoutFail({
          duration: timeout ?? options.timeout,
          onTimeout: () =>
            new BotApiError({
              method,
              status: 0,
              message: `${method}: the Telegram Bot API did not answer within ${formatDuration(Duration.decode(timeout ?? options.timeout))}`
            })
        })
      )
    return { call }
  })
