// Why a request is refused, as one typed error carrying the HTTP status and the OpenAI error body.
// Routes fail with it; the adapter writes it in exactly one place.
import * as Data from "effect/Data"
import { errorBody, type OpenAiError } from "./OpenAiResponses.js"

export class RequestRejected extends Data.TaggedError("RequestRejected")<{
  readonly status: number
  readonly body: OpenAiError
  readonly headers: Readonly<Record<string, string>>
}> {}

const reject = (status: number, body: OpenAiError, headers: Readonly<Record<string, string>> = {}) =>
  new RequestRejected({ status, body, headers })

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  reject(400, errorBody(message, "invalid_request_error", { param, code }))

export const unsupportedMediaType = (contentType: string | undefined) =>
  reject(
    415,
    errorBody(
      `Content-Type must be application/json, got ${contentType === undefined ? "none" : JSON.stringify(contentType)}`,
      "invalid_request_error",
      { code: "unsupported_media_type" }
    )
  )

/**
 * The body is never read past the limit; the connection is closed after the answer so Node does
 * not drain an arbitrarily large remainder to keep it alive.
 */
export const payloadTooLarge = (limit: number) =>
  reject(
    413,
    errorBody(`request body exceeds ${limit} bytes`, "invalid_request_error", { code: "payload_too_large" }),
    { Connection: "close" }
  )

/**
 * Closed after the answer: otherwise Node reads (and drops) whatever body the client sends, for as
 * long as it sends, to keep the connection alive for a client that has no business here.
 */
export const unauthorized = () =>
  reject(
    401,
    errorBody("missing or invalid API key (expected Authorization: Bearer <key>)", "authentication_error", {
      code: "invalid_api_key"
    }),
    { "WWW-Authenticate": "Bearer", Connection: "close" }
  )

export const notFound = (method: string, path: string) =>
  reject(404, errorBody(`no route for ${method} ${path}`, "invalid_request_error", { code: "not_found" }))

export const modelNotFound = (model: string) =>
  reject(
    404,
    errorBody(`the model ${JSON.stringify(model)} does not exist`, "invalid_request_error", {
      param: "model",
      code: "model_not_found"
    })
  )

export const methodNotAllowed = (method: string, path: string, allow: ReadonlyArray<string>) =>
  reject(
    405,
    errorBody(`method ${method} is not allowed on ${path}`, "invalid_request_error", { code: "method_not_allowed" }),
    { Allow: allow.join(", ") }
  )

export type UnavailableCode = "starting" | "draining" | "interrupted" | "storage" | "busy"

const unavailableMessages: Record<UnavailableCode, string> = {
  starting: "gateway is starting",
  draining: "gateway is draining and not accepting new requests",
  interrupted: "gateway is shutting down; the turn was interrupted",
  storage: "the gateway could not record the message; nothing was stored",
  busy: "the gateway is receiving too many request bodies at once; retry later"
}

/** 503 always carries Retry-After so clients and load balancers back off and retry elsewhere. */
export const unavailable = (
  code: UnavailableCode,
  retryAfterSeconds: number,
  headers: Readonly<Record<string, string>> = {}
) =>
  reject(503, errorBody(unavailableMessages[code], "unavailable", { code }), {
    ...headers,
    "Retry-After": String(retryAfterSeconds)
  })

/**
 * gateway.max_inflight_turns turns are running: refused at once, nothing recorded. 429 (not 503)
 * because the gateway is healthy and a load balancer should not take it out; Retry-After as for 503.
 */
export const tooManyTurns = (message: string, retryAfterSeconds: number) =>
  reject(429, errorBody(message, "rate_limit_error", { code: "busy" }), { "Retry-After": String(retryAfterSeconds) })

export const agentFailed = (message: string, headers: Readonly<Record<string, string>> = {}) =>
  reject(502, errorBody(`the agent failed: ${message}`, "api_error", { code: "agent_error" }), headers)

/** The session was suspended by the restart-loop breaker: an operator has to look at it first. */
export const sessionSuspended = (message: string) =>
  reject(409, errorBody(message, "invalid_request_error", { code: "session_suspended" }))

export const internalError = () =>
  reject(500, errorBody("internal error in the gateway", "api_error", { code: "internal_error" }))
