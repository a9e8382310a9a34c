// `doctor` asks the OpenAI-compatible model server for its model list (GET <base_url>/models), the
// cheapest request every such server answers, so a wrong URL, a server that is down or a refused
// key shows before the first user waits for an answer. Bounded: doctor must not hang on a server
// that accepts connections and never answers. The key goes in a header only; no text printed here
// ever includes it.
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { formatDuration } from "../config/Duration.js"
import type { OpenAiOptions } from "./OpenAiAgent.js"

/** Long enough for a remote server on a slow link, short enough for a command an operator waits on. */
export const modelProbeTimeout = Duration.seconds(5)

export type ModelProbe =
  | { readonly _tag: "Answered"; readonly url: string; readonly models: Option.Option<ReadonlyArray<string>> }
  | { readonly _tag: "Refused"; readonly url: string; readonly reason: string }

/** The first system error code in a cause chain (ECONNREFUSED, ENOTFOUND, ...). */
const errorCode = (error: unknown, depth = 0): string | undefined => {
  if (depth > 5 || typeof error !== "object" || error === null) return undefined
  const { code, cause } = error as { code?: unknown; cause?: unknown }
  return typeof code === "string" ? code : errorCode(cause, depth + 1)
}

/** The innermost message of a cause chain ("connect ECONNREFUSED ...", "getaddrinfo ENOTFOUND ..."). */
const innermostMessage = (error: unknown, depth = 0): string | undefined => {
  if (depth > 5 || typeof error !== "object" || error === null) return undefined
  const { cause, message } = error as { cause?: unknown; message?: unknown }
  return innermostMessage(cause, depth + 1) ?? (typeof message === "string" && message !== "" ? message : undefined)
}

/** The model ids of an OpenAI-style list (`{ data: [{ id }] }`), if the body is one. */
export const modelIdsOf = (body: unknown): Option.Option<ReadonlyArray<string>> => {
  const data = typeof body === "object" && body !== null ? (body as { data?: unknown }).data : undefined
  if (!Array.isArray(data)) return Option.none()
  return Option.some(data.flatMap((item) => {
    const id = typeof item === "object" && item !== null ? (item as { id?: unknown }).id : undefined
    return typeof id === "string" ? [id] : []
  }))
}

const statusReason = (status: number, keyVariable: string | null): string => {
  if (status === 401 || status === 403) {
    return `answered ${status}: ${keyVariable === null ? "it wants an API key (set agent.openai.api_key_env)" : `it refused the key in ${keyVariable}`}`
  }
  if (status === 404) return "answered 404: is base_url right (up to and including the API version, e.g. .../v1)?"
  return `answered ${status}`
}

/** The URL as printed: user and password (if base_url carries any) are not shown. */
export const shownUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.username === "" && parsed.password === "") return url
    parsed.username = ""
    parsed.password = ""
    return parsed.toString()
  } catch {
    return url
  }
}

export const probeModelServer = (
  options: OpenAiOptions,
  keyVariable: string | null,
  timeout: Duration.Duration = modelProbeTimeout
): Effect.Effect<ModelProbe> => {
  const url = `${options.baseUrl}/models`
  const refused = (reason: string): ModelProbe => ({ _tag: "Refused", url: shownUrl(url), reason })
  // fetch refuses such a URL, and its message would print the password.
  if (shownUrl(url) !== url) {
    return Effect.succeed(refused("base_url carries a user name or password, which fetch refuses; give the key with api_key_env"))
  }
  return Effect.gen(function*() {
    const client = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerPropagation(false))
    const request = HttpClientRequest.get(url).pipe(
      HttpClientRequest.acceptJson,
      Option.match(options.apiKey, {
        onNone: () => (r: HttpClientRequest.HttpClientRequest) => r,
        onSome: (key) => HttpClientRequest.bearerToken(Redacted.value(key))
      })
    )
    const response = yield* client.execute(request)
    if (response.status < 200 || response.status > 299) return refused(statusReason(response.status, keyVariable))
    const body = yield* response.json.pipe(Effect.orElseSucceed(() => undefined))
    return { _tag: "Answered", url: shownUrl(url), models: modelIdsOf(body) } satisfies ModelProbe
  }).pipe(
    Effect.scoped,
    Effect.timeoutTo({
      duration: timeout,
      onSuccess: (probe): ModelProbe => probe,
      onTimeout: () => refused(`no answer within ${formatDuration(timeout)}`)
    }),
    Effect.catchAll((error) => {
      const code = errorCode(error)
      const reason = typeof error === "object" && error !== null && "reason" in error ? String(error.reason) : ""
      const detail = code ?? innermostMessage(error)?.slice(0, 200)
      return Effect.succeed(refused(
        reason === "InvalidUrl" ? "not a URL fetch accepts" : `cannot connect${detail === undefined ? "" : ` (${detail})`}`
      ))
    }),
    Effect.provide(FetchHttpClient.layer)
  )
}
