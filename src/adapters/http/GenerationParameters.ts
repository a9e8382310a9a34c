// The generation parameters of POST /v1/chat/completions: those the gateway forwards to the agent
// (validated here, so a bad value is a 400 naming the field rather than a model server's 400 hidden
// inside a failed turn), and those it cannot honour, refused with a 400 naming the field instead of
// being dropped: a tool-calling or multi-choice client must not get an answer that silently ignores
// what it asked for.
import * as Schema from "effect/Schema"
import type { GenerationOptions } from "../../agents/Agent.js"

const between = (min: number, max: number) =>
  Schema.Number.pipe(
    Schema.filter((value) => (Number.isFinite(value) && value >= min && value <= max) || `must be between ${min} and ${max}`)
  )

const positiveInt = Schema.Number.pipe(
  Schema.filter((value) => (Number.isSafeInteger(value) && value >= 1) || "must be a whole number of at least 1")
)

const stopSequence = Schema.String.pipe(Schema.filter((text) => text !== "" || "must not be empty"))

const maxStops = 4

// A union reports one issue per member; pick the one that explains this value.
const Stop = Schema.Union(stopSequence, Schema.Array(stopSequence).pipe(Schema.maxItems(maxStops))).annotations({
  message: (issue) => {
    const actual = issue.actual
    if (Array.isArray(actual) && actual.length > maxStops) {
      return { message: `must hold at most ${maxStops} sequences`, override: true }
    }
    return Array.isArray(actual) || typeof actual === "string"
      // The inner issue names the bad element (stop[1]) or the empty string.
      ? { message: "", override: false }
      : { message: `Expected a string or an array of up to ${maxStops} strings`, override: true }
  }
})

// json_schema's inner object goes to the model server as sent (name, schema, strict, description...);
// only its name is required, as OpenAI requires it.
const JsonSchemaFormat = Schema.Struct({
  type: Schema.Literal("json_schema"),
  json_schema: Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(
    Schema.filter((spec) => typeof spec["name"] === "string" || "json_schema.name must be a string")
  )
})

const formatTypes = ["text", "json_object", "json_schema"] as const

const ResponseFormat = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text") }),
  Schema.Struct({ type: Schema.Literal("json_object") }),
  JsonSchemaFormat
).annotations({
  message: (issue) => {
    const type = typeof issue.actual === "object" && issue.actual !== null ? (issue.actual as { type?: unknown }).type : undefined
    return type === "json_schema"
      ? { message: "", override: false }
      : {
        message: `Expected {"type": ${formatTypes.map((t) => `"${t}"`).join(" | ")}}, actual ${JSON.stringify(type ?? null)}`,
        override: true
      }
  }
})

/** Forwarded to the agent; `null` means absent, as OpenAI's clients send it. */
export const forwardedFields = {
  temperature: Schema.optional(Schema.NullOr(between(0, 2))),
  top_p: Schema.optional(Schema.NullOr(between(0, 1))),
  max_tokens: Schema.optional(Schema.NullOr(positiveInt)),
  max_completion_tokens: Schema.optional(Schema.NullOr(positiveInt)),
  stop: Schema.optional(Schema.NullOr(Stop)),
  seed: Schema.optional(Schema.NullOr(Schema.Int)),
  response_format: Schema.optional(Schema.NullOr(ResponseFormat)),
  presence_penalty: Schema.optional(Schema.NullOr(between(-2, 2))),
  frequency_penalty: Schema.optional(Schema.NullOr(between(-2, 2)))
}

export const forwardedNames = Object.keys(forwardedFields) as ReadonlyArray<keyof typeof forwardedFields>

/** A field present with a value the gateway cannot honour; `null` (and the no-op values listed) pass. */
const refused = (reason: string, noOp: (value: unknown) => boolean = () => false) =>
  Schema.optional(Schema.Unknown.pipe(Schema.filter((value) => value === null || noOp(value) || reason)))

const emptyArray = (value: unknown) => Array.isArray(value) && value.length === 0

/** Refused with 400: honouring them needs something the gateway's agents do not do. */
export const refusedFields = {
  n: refused("only one choice per request is supported (n must be 1)", (value) => value === 1),
  tools: refused("tool calling is not supported by this gateway", emptyArray),
  tool_choice: refused("tool calling is not supported by this gateway", (value) => value === "none"),
  parallel_tool_calls: refused("tool calling is not supported by this gateway", (value) => typeof value === "boolean"),
  functions: refused("function calling is not supported by this gateway", emptyArray),
  function_call: refused("function calling is not supported by this gateway", (value) => value === "none"),
  audio: refused("audio output is not supported by this gateway"),
  modalities: refused(
    `only the "text" modality is supported`,
    (value) => Array.isArray(value) && value.every((modality) => modality === "text")
  ),
  logprobs: refused("log probabilities are not supported by this gateway", (value) => value === false),
  top_logprobs: refused("log probabilities are not supported by this gateway")
}

export const refusedNames: ReadonlySet<string> = new Set(Object.keys(refusedFields))

type Decoded = Schema.Struct.Type<typeof forwardedFields>

/** The forwarded fields that were given (not absent, not null), for the turn's inbound message. */
export const generationOf = (request: Decoded): GenerationOptions | undefined => {
  const given: Record<string, unknown> = {}
  for (const name of forwardedNames) {
    const value = request[name]
    if (value !== undefined && value !== null) given[name] = value
  }
  return Object.keys(given).length === 0 ? undefined : given as GenerationOptions
}
