// The agent answers a turn: given the conversation so far, it streams the reply text.
// Adapters never talk to an agent directly; the turn supervisor does.
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"

export type Role = "system" | "user" | "assistant"

export interface ChatMessage {
  readonly role: Role
  readonly content: string
}

/** What a client asked of the output format: OpenAI's `response_format`, passed on as given. */
export type ResponseFormat =
  | { readonly type: "text" }
  | { readonly type: "json_object" }
  | { readonly type: "json_schema"; readonly json_schema: Readonly<Record<string, unknown>> }

/**
 * Sampling and output controls a client asked for, under OpenAI's names (an OpenAI-compatible
 * server takes them as they are). Absent fields are left to the model server's defaults.
 */
export interface GenerationOptions {
  readonly temperature?: number
  readonly top_p?: number
  readonly max_tokens?: number
  readonly max_completion_tokens?: number
  readonly stop?: string | ReadonlyArray<string>
  readonly seed?: number
  readonly response_format?: ResponseFormat
  readonly presence_penalty?: number
  readonly frequency_penalty?: number
}

/** Token counts as the model server reported them. */
export interface AgentUsage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly total_tokens: number
}

/** What the agent learned about its answer besides the text; each field only once known. */
export interface AgentReport {
  /** The model that actually answered (a server may resolve an alias to a dated version). */
  readonly model?: string
  readonly usage?: AgentUsage
  /** Why the model stopped: "length" when max_tokens cut the answer short. */
  readonly finishReason?: FinishReason
}

export type FinishReason = "stop" | "length" | "content_filter"

export interface AgentRequest {
  readonly sessionId: string
  /** Oldest first; the last entry is the inbound user message of this turn. */
  readonly messages: ReadonlyArray<ChatMessage>
  /** The client's generation parameters (HTTP turns); absent for platforms that have none. */
  readonly generation?: GenerationOptions | undefined
  /** Told what the model server reports (model, usage) as it arrives; agents that know nothing never call it. */
  readonly onReport?: ((report: AgentReport) => Effect.Effect<void>) | undefined
}

export class AgentError extends Data.TaggedError("AgentError")<{
  readonly message: string
}> {}

export class Agent extends Context.Tag("hermes/Agent")<Agent, {
  /** Model name reported by `GET /v1/models` and in completions. */
  readonly model: string
  /** Reply text as a stream of chunks; concatenated they form the whole reply. */
  readonly respond: (request: AgentRequest) => Stream.Stream<string, AgentError>
}>() {}
