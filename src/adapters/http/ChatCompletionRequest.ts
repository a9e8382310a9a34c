// The body of POST /v1/chat/completions as this gateway understands it, and how it becomes one
// turn's InboundMessage (CONTRACT 9: the last user message is the turn, earlier ones are history).
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { ChatMessage } from "../../agents/Agent.js"
import type { InboundMessage } from "../Adapter.js"
import { forwardedFields, generationOf, refusedFields, refusedNames } from "./GenerationParameters.js"
import { maxJsonNesting, nestsDeeperThan } from "./JsonNesting.js"

/** Short rendering of a rejected value for error messages; never the whole body. */
const show = (value: unknown): string => {
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    // A cycle, or nesting beyond the stack: String() may fail the same way.
    try {
      text = String(value)
    } catch {
      text = Array.isArray(value) ? "an array" : typeof value
    }
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

const roles = ["system", "user", "assistant", "developer", "tool"] as const

// Unions report one issue per member; these messages replace that list with one readable line.
const Role = Schema.Literal(...roles).annotations({
  message: (issue) => ({
    message: `Expected one of ${roles.map((role) => `"${role}"`).join(", ")}, actual ${show(issue.actual)}`,
    override: true
  })
})

const TextPart = Schema.Struct({
  type: Schema.Literal("text").annotations({
    message: (issue) => `Expected "text" (only text content parts are supported), actual ${show(issue.actual)}`
  }),
  text: Schema.String
}).annotations({
  message: (issue) => `Expected a content part {"type": "text", "text": string}, actual ${show(issue.actual)}`
})

// `null` is what clients send for assistant messages that only carried tool calls.
const Content = Schema.Union(Schema.String, Schema.Array(TextPart), Schema.Null).annotations({
  message: (issue) =>
    Array.isArray(issue.actual)
      // For an array the interesting issue is inside it (which part is wrong): keep the inner ones.
      ? { message: "", override: false }
      : { message: `Expected a string or an array of text parts, actual ${show(issue.actual)}`, override: true }
})

const Message = Schema.Struct({ role: Role, content: Content }).annotations({
  message: (issue) => `Expected a message object {role, content}, actual ${show(issue.actual)}`
})

export type Message = typeof Message.Type

const Messages = Schema.Array(Message).annotations({
  message: (issue) => `Expected an array of messages, actual ${show(issue.actual)}`
}).pipe(
  Schema.filter((messages) =>
    messages.some((message) => message.role === "user") || `must contain at least one message with role "user"`
  )
)

/**
 * Fields the gateway uses, forwards (GenerationParameters) or refuses; every other OpenAI field
 * (metadata, store, service_tier, ...) is accepted and ignored.
 */
export const ChatCompletionRequest = Schema.Struct({
  ...forwardedFields,
  ...refusedFields,
  model: Schema.optional(Schema.NullOr(Schema.String)),
  messages: Messages,
  stream: Schema.optional(Schema.NullOr(Schema.Boolean)),
  stream_options: Schema.optional(Schema.NullOr(Schema.Struct({
    include_usage: Schema.optional(Schema.NullOr(Schema.Boolean))
  }))),
  user: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({
  message: (issue) => `Expected a JSON object, actual ${show(issue.actual)}`
})

export type ChatCompletionRequest = typeof ChatCompletionRequest.Type

/** What is wrong with a body, for a 400: `message` names the field, `param` is its top-level key. */
export interface InvalidBody {
  readonly message: string
  readonly param: string | null
  /** OpenAI's machine-readable `code`, for the refusals that have one. */
  readonly code?: string
}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((text, key) =>
    typeof key === "number"
      ? `${text}[${key}]`
      : text === "" ? String(key) : `${text}.${String(key)}`, "")

const decodeRequest = Schema.decodeUnknownEither(ChatCompletionRequest)

export const decodeChatCompletionRequest = (json: unknown): Either.Either<ChatCompletionRequest, InvalidBody> =>
  Either.mapLeft(decodeRequest(json), (error) => {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
    // The deepest issue is the most specific one (content[0].type rather than content).
    const issue = issues.reduce((best, next) => next.path.length > best.path.length ? next : best)
    const where = formatPath(issue.path)
    const first = issue.path[0]
    const param = typeof first === "string" ? first : null
    return {
      message: where === "" ? issue.message : `${where}: ${issue.message}`,
      param,
      // OpenAI's code for a parameter the model cannot take; clients may branch on it.
      ...(param !== null && refusedNames.has(param) ? { code: "unsupported_parameter" } : {})
    }
  })

/**
 * Parses the raw body; the message goes into a 400 answer. Too deep a nesting is refused before
 * parsing, so nothing downstream ever has to walk such a value.
 */
export const parseJson = (body: string): Either.Either<unknown, InvalidBody> =>
  nestsDeeperThan(body, maxJsonNesting)
    ? Either.left({
      message: `request body nests arrays and objects more than ${maxJsonNesting} levels deep`,
      param: null,
      code: "nesting_too_deep"
    })
    : Either.try({
      try: () => JSON.parse(body) as unknown,
      catch: (error) => ({
        message: `request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
        param: null
      })
    })

export const textOf = (content: Message["content"]): string =>
  content === null ? "" : typeof content === "string" ? content : content.map((part) => part.text).join("\n")

const toChatMessage = (message: Message): ReadonlyArray<ChatMessage> => {
  switch (message.role) {
    // Tool results belong to the client's own tool loop; the agent has no tools to match them to.
    case "tool":
      return []
    case "developer":
      return [{ role: "system", content: textOf(message.content) }]
    default:
      return [{ role: message.role, content: textOf(message.content) }]
  }
}

const presentOrUndefined = (value: string | null | undefined): string | undefined =>
  value === null || value === undefined || value === "" ? undefined : value

/**
 * The turn's inbound message is the LAST user message; everything before it is the client's copy
 * of the history. Messages after it (an assistant prefill) have no place in a turn and are dropped.
 * The session key is the body's `user`, else the `X-Hermes-Session` header, else a new session.
 */
export const toInboundMessage = (
  request: ChatCompletionRequest,
  sessionHeader: string | undefined
): InboundMessage => {
  let last = request.messages.length - 1
  while (last >= 0 && request.messages[last]!.role !== "user") last--
  const inbound = request.messages[last]
  return {
    platform: "http",
    sessionKey: presentOrUndefined(request.user) ?? presentOrUndefined(sessionHeader),
    text: inbound === undefined ? "" : textOf(inbound.content),
    history: request.messages.slice(0, Math.max(last, 0)).flatMap(toChatMessage),
    user: presentOrUndefined(request.user),
    generation: generationOf(request)
  }
}
