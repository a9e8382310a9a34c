// The openai agent (agent.kind: openai) asks any OpenAI-compatible server (Ollama, llama.cpp, vLLM,
// OpenAI itself) for a streamed chat completion and passes the text chunks on as they arrive.
// Every failure becomes an AgentError with a short message fit to show a user; the full cause is
// logged at warning level. Interrupting the turn aborts the HTTP request.
import { formatDuration } from "../config/Duration.js"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { GatewayConfig } from "../config/GatewayConfig.js"
import { ConfigError } from "../config/LoadConfig.js"
import { Agent, AgentError, type AgentReport, type AgentRequest, type AgentUsage, type ChatMessage } from "./Agent.js"

export interface OpenAiOptions {
  /** Up to and including the API version, without a trailing slash: http://127.0.0.1:11434/v1 */
  readonly baseUrl: string
  readonly model: string
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  /** Limit on getting the response (connect + headers) and on every gap between body chunks. */
  readonly timeout: Duration.Duration
  readonly maxContextMessages: number
}

/**
 * The agent.openai section plus the environment: the key is read from the variable api_key_env
 * names, and a named variable that is missing or empty is a ConfigError (exit 78) naming it.
 */
export const openAiOptionsFrom = (
  config: GatewayConfig["agent"]["openai"],
  env: Record<string, string | undefined>
): Either.Either<OpenAiOptions, ConfigError> => {
  if (config.model.trim() === "") {
    return Either.left(
      new ConfigError({
        path: "agent.openai.model",
        message: `agent.openai.model: required when agent.kind is "openai"`
      })
    )
  }
  let apiKey: Option.Option<Redacted.Redacted<string>> = Option.none()
  if (config.api_key_env !== null) {
    const value = env[config.api_key_env]
    if (value === undefined || value.trim() === "") {
      return Either.left(
        new ConfigError({
          path: "agent.openai.api_key_env",
          message: `agent.openai.api_key_env: the environment variable ${config.api_key_env} ` +
            `${value === undefined ? "is not set" : "is empty"}; set it to the API key, or set api_key_env to null`
        })
      )
    }
    apiKey = Option.some(Redacted.make(value.trim()))
  }
  return Either.right({
    baseUrl: config.base_url.replace(/\/+$/, ""),
    model: config.model.trim(),
    apiKey,
    timeout: config.timeout,
    maxContextMessages: config.max_context_messages
  })
}

/**
 * At most `max` messages: the system messages first (the earliest ones if even they do not fit),
 * then the newest of the rest. The newest message (this turn's user message) is always kept.
 */
export const contextWindow = (messages: ReadonlyArray<ChatMessage>, max: number): ReadonlyArray<ChatMessage> => {
  const limit = Math.max(1, Math.floor(max))
  const system = messages.filter((m) => m.role === "system")
  const rest = messages.filter((m) => m.role !== "system")
  const recent = rest.slice(-Math.max(1, limit - system.length))
  const keptSystem = system.slice(0, Math.max(0, limit - recent.length))
  return [...keptSystem, ...recent]
}

/** What a user may see of a server's text: one line, bounded. */
const truncate = (text: string, max = 200): string => {
  const line = text.replace(/\s+/g, " ").trim()
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

/** OpenAI's `{"error":{"message":...}}`, Ollama's `{"error":"..."}`, or the body itself. */
export const serverErrorMessage = (body: string): string => {
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === "object" && parsed !== null && "error" in parsed) {
      const error = (parsed as { error: unknown }).error
      if (typeof error === "string") return truncate(error)
      if (typeof error === "object" && error !== null && "message" in error) {
        const message = (error as { message: unknown }).message
        if (typeof message === "string") return truncate(message)
      }
    }
    if (typeof parsed === "object" && parsed !== null && "message" in parsed) {
      const message = (parsed as { message: unknown }).message
      if (typeof message === "string") return truncate(message)
    }
  } catch {
    // not JSON: the text itself
  }
  return truncate(body)
}

/** Internal failure, kept apart from AgentError so the full cause can be logged before shortening. */
class Failure {
  constructor(readonly message: string, readonly cause?: unknown) {}
}

type SseEvent =
  | { readonly _tag: "Content"; readonly text: string }
  | { readonly _tag: "Report"; readonly report: AgentReport }
  | { readonly _tag: "Done" }

// One chunk of the model server's stream, decoded field by field: what the gateway needs (choices,
// the delta's text) must be right or the stream is malformed; what it only passes on (model, usage,
// finish reason) is dropped when it is not what OpenAI documents.
const Count = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

const ChunkUsage = Schema.Struct({
  prompt_tokens: Count,
  completion_tokens: Count,
  total_tokens: Schema.optional(Schema.Unknown)
})

const StreamChunk = Schema.Struct({
  error: Schema.optional(Schema.Unknown),
  choices: Schema.optional(Schema.Unknown),
  model: Schema.optional(Schema.Unknown),
  usage: Schema.optional(Schema.Unknown)
})

const FirstChoice = Schema.Struct({
  finish_reason: Schema.optional(Schema.Unknown),
  delta: Schema.optional(Schema.Unknown)
})

const Delta = Schema.Struct({ content: Schema.optional(Schema.Unknown) })

const decodeJson = Schema.decodeEither(Schema.parseJson())
const decodeChunk = Schema.decodeUnknownEither(StreamChunk)
const decodeChoices = Schema.decodeUnknownEither(Schema.Array(Schema.Unknown))
const decodeContent = Schema.decodeUnknownEither(Schema.NullishOr(Schema.String))
const usageOf = Schema.decodeUnknownOption(ChunkUsage)
const modelOf = Schema.decodeUnknownOption(Schema.String.pipe(Schema.filter((name) => name.trim() !== "")))
const countOf = Schema.decodeUnknownOption(Count)
const finishOf = Schema.decodeUnknownOption(Schema.Literal("stop", "length", "content_filter"))
const firstChoiceOf = Schema.decodeUnknownOption(FirstChoice)
const deltaOf = Schema.decodeUnknownOption(Delta)

/** The chunk's `usage` when it is well formed (OpenAI sends it in a last chunk with include_usage). */
const usageIn = (usage: unknown): AgentUsage | undefined =>
  Option.getOrUndefined(Option.map(usageOf(usage), ({ completion_tokens, prompt_tokens, total_tokens }) => ({
    prompt_tokens,
    completion_tokens,
    total_tokens: Option.getOrElse(countOf(total_tokens), () => prompt_tokens + completion_tokens)
  })))

/**
 * One SSE `data:` payload to what it carries: the model and usage the server reports (every chunk
 * names the model; usage comes once), then the text. None of them for role-only or finish chunks.
 */
export const parseSseData = (data: string): Either.Either<ReadonlyArray<SseEvent>, Failure> => {
  if (data.trim() === "[DONE]") return Either.right([{ _tag: "Done" }])
  const json = decodeJson(data)
  if (Either.isLeft(json)) return Either.left(new Failure("the model server sent a malformed stream (bad JSON)", json.left))
  const chunk = decodeChunk(json.right)
  if (Either.isLeft(chunk)) return Either.left(new Failure("the model server sent a malformed stream (not an object)", data))
  if (chunk.right.error !== undefined && chunk.right.error !== null) {
    return Either.left(new Failure(`the model server failed mid-answer: ${serverErrorMessage(data)}`, data))
  }
  const choices = decodeChoices(chunk.right.choices)
  if (Either.isLeft(choices)) return Either.left(new Failure("the model server sent a malformed stream (no choices)", data))
  const usage = usageIn(chunk.right.usage)
  const model = Option.getOrUndefined(modelOf(chunk.right.model))
  const events: Array<SseEvent> = model === undefined && usage === undefined
    ? []
    : [{ _tag: "Report", report: { ...(model === undefined ? {} : { model }), ...(usage === undefined ? {} : { usage }) } }]
  if (choices.right.length === 0) return Either.right(events)
  const first = firstChoiceOf(choices.right[0])
  const finish = Option.flatMap(first, (choice) => finishOf(choice.finish_reason))
  if (Option.isSome(finish)) events.push({ _tag: "Report", report: { finishReason: finish.value } })
  const content = decodeContent(Option.getOrUndefined(Option.flatMap(first, (choice) => deltaOf(choice.delta)))?.content)
  if (Either.isLeft(content)) {
    return Either.left(new Failure("the model server sent a malformed stream (content is not text)", data))
  }
  const text = content.right
  if (text === undefined || text === null || text === "") return Either.right(events)
  return Either.right([...events, { _tag: "Content", text }])
}

/**
 * SSE lines to the events they carry: `data:` lines (multi-line data joined with \n per the SSE spec), events ended
 * by a blank line; comments (`:`), `event:`, `id:` and `retry:` fields are ignored.
 */
const sseEvents = <E>(lines: Stream.Stream<string, E>): Stream.Stream<SseEvent, E | Failure> =>
  lines.pipe(
    Stream.concat(Stream.make("")), // flush an event not followed by a blank line
    Stream.mapAccum([] as Array<string>, (pending, line): [Array<string>, Option.Option<string>] => {
      if (line === "") return pending.length === 0 ? [pending, Option.none()] : [[], Option.some(pending.join("\n"))]
      if (line.startsWith("data:")) {
        const value = line.slice(5)
        return [[...pending, value.startsWith(" ") ? value.slice(1) : value], Option.none()]
      }
      return [pending, Option.none()]
    }),
    Stream.filterMap((data: Option.Option<string>) => data),
    Stream.mapEffect((data: string) => parseSseData(data)),
    Stream.flattenIterables,
    Stream.takeUntil((event) => event._tag === "Done")
  )

/** An error and its `cause` chain as one line, e.g. "TypeError: fetch failed <- Error: connect ECONNREFUSED ...". */
export const causeText = (error: unknown, depth = 0): string => {
  if (depth > 4) return "…"
  if (error instanceof Error) {
    const own = `${error.name}: ${error.message}`
    return error.cause === undefined ? own : `${own} <- ${causeText(error.cause, depth + 1)}`
  }
  if (typeof error === "object" && error !== null) {
    // @effect/platform's RequestError / ResponseError: their own text plus the underlying cause,
    // never the request itself (it holds the transcript and the Authorization header).
    const tagged = error as { _tag?: unknown; reason?: unknown; cause?: unknown; message?: unknown }
    if (typeof tagged._tag === "string") {
      const head = `${tagged._tag}${typeof tagged.reason === "string" ? ` (${tagged.reason})` : ""}`
      return tagged.cause === undefined ? head : `${head} <- ${causeText(tagged.cause, depth + 1)}`
    }
  }
  return truncate(String(error), 2000)
}

/** The first system error code in a cause chain (ECONNREFUSED, ENOTFOUND, ...). */
const errorCode = (error: unknown, depth = 0): string | undefined => {
  if (depth > 4 || typeof error !== "object" || error === null) return undefined
  const { code, cause } = error as { code?: unknown; cause?: unknown }
  return typeof code === "string" ? code : errorCode(cause, depth + 1)
}

const describeTransport = (error: unknown, baseUrl: string): string => {
  const reason = typeof error === "object" && error !== null && "reason" in error ? String(error.reason) : ""
  if (reason === "InvalidUrl") return `the model server URL is invalid (${baseUrl})`
  const code = errorCode(error)
  return `cannot reach the model server at ${baseUrl}${code === undefined ? "" : ` (${code})`}`
}

export const makeOpenAiAgent = (options: OpenAiOptions) =>
  Effect.gen(function*() {
    // No trace headers (traceparent, b3) to a third-party server.
    const client = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerPropagation(false))
    const url = `${options.baseUrl}/chat/completions`
    const seconds = formatDuration(options.timeout)

    const respond = (request: AgentRequest): Stream.Stream<string, AgentError> => {
      const body = {
        // The client's parameters first, so nothing in them can replace what the gateway decides.
        ...request.generation,
        model: options.model,
        messages: contextWindow(request.messages, options.maxContextMessages).map((m) => ({
          role: m.role,
          content: m.content
        })),
        stream: true,
        // The model server's own token counts, in a last chunk (servers that do not know it ignore it).
        stream_options: { include_usage: true }
      }
      const httpRequest = HttpClientRequest.post(url).pipe(
        HttpClientRequest.setHeader("accept", "text/event-stream"),
        Option.match(options.apiKey, {
          onNone: () => (r: HttpClientRequest.HttpClientRequest) => r,
          onSome: (key) => HttpClientRequest.bearerToken(Redacted.value(key))
        }),
        HttpClientRequest.bodyUnsafeJson(body)
      )
      const timedOut = (what: string) => new Failure(`the model server did not ${what} within ${seconds}`)

      const chunks = Stream.unwrap(
        Effect.gen(function*() {
          const response = yield* client.execute(httpRequest).pipe(
            Effect.mapError((error) => new Failure(describeTransport(error, options.baseUrl), error)),
            Effect.timeoutFail({ duration: options.timeout, onTimeout: () => timedOut("answer") })
          )
          if (response.status < 200 || response.status >= 300) {
            const text = yield* response.text.pipe(
              Effect.timeout(options.timeout),
              Effect.orElseSucceed(() => "")
            )
            const detail = serverErrorMessage(text)
            return yield* Effect.fail(
              new Failure(`the model server answered ${response.status}${detail === "" ? "" : `: ${detail}`}`, text)
            )
          }
          return response.stream.pipe(
            Stream.mapError((error) => new Failure("the connection to the model server broke mid-answer", error)),
            Stream.timeoutFail(() => timedOut("send anything"), options.timeout),
            Stream.decodeText(),
            Stream.splitLines,
            sseEvents,
            Stream.mapEffect((event: SseEvent) =>
              event._tag === "Report" && request.onReport !== undefined
                ? Effect.as(request.onReport(event.report), Option.none<string>())
                : Effect.succeed(event._tag === "Content" ? Option.some(event.text) : Option.none<string>())
            ),
            Stream.filterMap((text: Option.Option<string>) => text)
          )
        })
      )

      return chunks.pipe(
        Stream.catchAllCause((cause) => {
          if (Cause.isInterruptedOnly(cause)) return Stream.failCause(cause as Cause.Cause<never>)
          const failure = Chunk.head(Cause.failures(cause)).pipe(Option.getOrUndefined)
          const message = failure instanceof Failure ? failure.message : "the model server request failed"
          return Stream.fromEffect(
            Effect.logWarning(`openai agent: ${message}`).pipe(
              Effect.annotateLogs({ session: request.sessionId, model: options.model, url }),
              Effect.annotateLogs(
                failure instanceof Failure
                  ? (failure.cause === undefined ? {} : { cause: causeText(failure.cause) })
                  : { cause: Cause.pretty(cause) }
              ),
              Effect.zipRight(Effect.fail(new AgentError({ message })))
            )
          )
        })
      )
    }

    return { model: options.model, respond }
  })

export const openAiAgent = (options: OpenAiOptions): Layer.Layer<Agent> =>
  Layer.effect(Agent, makeOpenAiAgent(options)).pipe(Layer.provide(FetchHttpClient.layer))
