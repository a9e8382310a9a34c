// POST /v1/chat/completions: one request is one turn, answered as a plain completion or as an SSE
// stream whose first byte goes out only once the turn is accepted (recorded), per CONTRACT 9.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { type InboundMessage, type TurnIds, type TurnIntake, type TurnOutcome, type TurnProgress } from "../TurnIntake.js"
import type { BodyBudget } from "./BodyBudget.js"
import {
  decodeChatCompletionRequest,
  parseJson,
  toInboundMessage,
  type ChatCompletionRequest
} from "./ChatCompletionRequest.js"
import { sendJson, type Exchange } from "./Exchange.js"
import {
  chatCompletion,
  chatCompletionChunk,
  completionId,
  usageChunk,
  usageOf,
  type CompletionFields,
  type Usage
} from "./OpenAiResponses.js"
import { readBody } from "./RequestBody.js"
import {
  agentFailed,
  invalidRequest,
  payloadTooLarge,
  RequestRejected,
  sessionSuspended,
  tooManyTurns,
  unavailable,
  unsupportedMediaType
} from "./RequestRejected.js"
import { type EventStream, openEventStream } from "./ServerSentEvents.js"

export interface ChatCompletionsContext {
  readonly model: string
  readonly maxBodyBytes: number
  /** Shared by every request of the adapter: the bodies being received at once. */
  readonly bodyBudget: BodyBudget
  readonly retryAfterSeconds: number
  /** The intake while it is open; fails with the 503 to answer while starting or draining. */
  readonly openIntake: Effect.Effect<TurnIntake, RequestRejected>
}

const isJson = (contentType: string | undefined): boolean => {
  if (contentType === undefined) return false
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase()
  return mediaType === "application/json" || /^application\/[\w.+-]+\+json$/.test(mediaType)
}

const headerValue = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]

const sessionHeader = (ids: TurnIds) => ({ "X-Hermes-Session": ids.sessionId })

const decodeBody = (body: Buffer): Either.Either<ChatCompletionRequest, RequestRejected> =>
  parseJson(body.toString("utf8")).pipe(
    Either.flatMap(decodeChatCompletionRequest),
    Either.mapLeft((invalid) => invalidRequest(invalid.message, invalid.param, invalid.code))
  )

export const handleChatCompletion = (
  exchange: Exchange,
  context: ChatCompletionsContext
): Effect.Effect<void, RequestRejected> =>
  Effect.gen(function*() {
    // Refuse before reading: a body nobody will turn into a turn is not worth receiving.
    yield* context.openIntake
    const contentType = exchange.req.headers["content-type"]
    if (!isJson(contentType)) return yield* Effect.fail(unsupportedMediaType(contentType))
    // The raw body counts against the budget until it is decoded, and is garbage right after.
    const request = yield* readBody(exchange, context.maxBodyBytes, context.bodyBudget, decodeBody).pipe(
      Effect.catchTags({
        BodyTooLarge: (tooLarge) => Effect.fail(payloadTooLarge(tooLarge.limit)),
        // Closed after the answer, so Node does not read the unwanted rest to keep it alive.
        BudgetExhausted: () => Effect.fail(unavailable("busy", context.retryAfterSeconds, { Connection: "close" }))
      })
    )
    const inbound = toInboundMessage(request, headerValue(exchange.req.headers["x-hermes-session"]))
    // Checked again: intake may have closed while the body was arriving.
    const intake = yield* context.openIntake
    const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const promptTexts = [...inbound.history.map((message) => message.content), inbound.text]
    const closed = () => unavailable("draining", context.retryAfterSeconds)
    const turn: Turn = { exchange, context, created, promptTexts, closed }
    return yield* request.stream === true
      ? streamed(turn, intake, inbound, request.stream_options?.include_usage === true)
      : plain(turn, intake, inbound)
  }).pipe(
    // The client left mid-upload: there is no turn yet and nobody to answer.
    Effect.catchTag("BodyAborted", (aborted) =>
      Effect.logDebug("http request body aborted").pipe(Effect.annotateLogs({ reason: aborted.message })))
  )

interface Turn {
  readonly exchange: Exchange
  readonly context: ChatCompletionsContext
  readonly created: number
  readonly promptTexts: ReadonlyArray<string>
  readonly closed: () => RequestRejected
}

/** The model server's token counts when the agent reported them, else the gateway's estimate. */
const usageOfOutcome = (turn: Turn, outcome: Extract<TurnOutcome, { _tag: "Completed" }>): Usage =>
  outcome.usage ?? usageOf(turn.promptTexts, outcome.reply)

const fieldsOf = (turn: Turn, ids: TurnIds): CompletionFields => ({
  id: completionId(ids.turnId),
  created: turn.created,
  model: turn.context.model
})

/** Every outcome but Completed as the refusal to answer with (status or error event). */
const refusalOf = (turn: Turn, outcome: Exclude<TurnOutcome, { _tag: "Completed" }>): RequestRejected => {
  switch (outcome._tag) {
    case "Interrupted":
      return unavailable("interrupted", turn.context.retryAfterSeconds, sessionHeader(outcome.ids))
    case "Failed":
      return agentFailed(outcome.message, sessionHeader(outcome.ids))
    case "Duplicate":
      // Requests carry no externalId, so the journal never reports one; answered as a failure
      // rather than trusted, should that ever change.
      return agentFailed("the message was already recorded by an earlier turn", sessionHeader(outcome.ids))
    case "Refused":
      // Nothing was recorded, so there is no session id to hand back.
      return outcome.reason === "session_suspended"
        ? sessionSuspended(outcome.message)
        : outcome.reason === "busy"
        ? tooManyTurns(outcome.message, turn.context.retryAfterSeconds)
        : unavailable("storage", turn.context.retryAfterSeconds)
  }
}

const plain = (
  turn: Turn,
  intake: TurnIntake,
  inbound: InboundMessage
): Effect.Effect<void, RequestRejected> =>
  Effect.gen(function*() {
    const outcome = yield* intake.answer(inbound).pipe(
      Effect.catchTag("IntakeClosed", () => Effect.fail(turn.closed()))
    )
    if (outcome._tag !== "Completed") return yield* Effect.fail(refusalOf(turn, outcome))
    sendJson(
      turn.exchange,
      200,
      chatCompletion({
        ...fieldsOf(turn, outcome.ids),
        model: outcome.model ?? turn.context.model,
        reply: outcome.reply,
        usage: usageOfOutcome(turn, outcome),
        finishReason: outcome.finishReason
      }),
      sessionHeader(outcome.ids)
    )
  })

/** Where a streamed answer stands: nothing sent before acceptance, then an open event stream. */
type Answer =
  | { readonly _tag: "Waiting" }
  | {
    readonly _tag: "Streaming"
    readonly events: EventStream
    /** The configured model until the agent reports the one that answers; later chunks carry that. */
    readonly fields: CompletionFields
    readonly sentText: boolean
  }
  /** An event came out of order (a bug in the kernel): said once the outcome is in. */
  | { readonly _tag: "Broken"; readonly problem: string }

const streamed = (
  turn: Turn,
  intake: TurnIntake,
  inbound: InboundMessage,
  includeUsage: boolean
): Effect.Effect<void, RequestRejected> =>
  Effect.gen(function*() {
    // Written out by the turn as it goes (each write returns at once); the end is written here.
    const view: { answer: Answer } = { answer: { _tag: "Waiting" } }
    const outcome = yield* intake.follow(inbound, (event) => {
      view.answer = progressStep(turn, view.answer, event)
    }).pipe(Effect.catchTag("IntakeClosed", () => Effect.fail(turn.closed())))
    const last = view.answer
    // Before acceptance this is a plain error status; after it, an error event (sendRejection).
    if (outcome._tag !== "Completed") return yield* Effect.fail(refusalOf(turn, outcome))
    if (last._tag === "Broken") return yield* Effect.dieMessage(last.problem)
    if (last._tag === "Waiting") return yield* Effect.dieMessage("a turn completed without being accepted")
    const { events, fields } = last
    // A turn that never streamed still owes the client its reply.
    if (!last.sentText && outcome.reply !== "") {
      events.send(chatCompletionChunk({ ...fields, delta: { content: outcome.reply }, finishReason: null }))
    }
    events.send(chatCompletionChunk({ ...fields, delta: {}, finishReason: outcome.finishReason ?? "stop" }))
    if (includeUsage) events.send(usageChunk({ ...fields, usage: usageOfOutcome(turn, outcome) }))
    events.done()
  })

/** One turn event before the end, written to the client as OpenAI streams it. */
const progressStep = (turn: Turn, answer: Answer, event: TurnProgress): Answer => {
  if (answer._tag === "Broken") return answer
  if (event._tag === "Accepted") {
    if (answer._tag !== "Waiting") return { _tag: "Broken", problem: "a turn was accepted twice" }
    // The status line and first event go out now that the message is durable (CONTRACT 9).
    const events = openEventStream(turn.exchange.res, sessionHeader(event.ids))
    turn.exchange.events = events
    const fields = fieldsOf(turn, event.ids)
    events.send(chatCompletionChunk({ ...fields, delta: { role: "assistant", content: "" }, finishReason: null }))
    return { _tag: "Streaming", events, fields, sentText: false }
  }
  if (answer._tag === "Waiting") return { _tag: "Broken", problem: `a turn's ${event._tag} came before its acceptance` }
  if (event._tag === "Report") {
    return event.model === undefined ? answer : { ...answer, fields: { ...answer.fields, model: event.model } }
  }
  if (event.text === "") return answer
  answer.events.send(chatCompletionChunk({ ...answer.fields, delta: { content: event.text }, finishReason: null }))
  return { ...answer, sentText: true }
}
