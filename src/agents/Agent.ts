// The agent answers a turn: given the conversation so far, it streams the reply text.
// Adapters never talk to an agent directly; the turn supervisor does.
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Stream from "effect/Stream"

export type Role = "system" | "user" | "assistant"

export interface ChatMessage {
  readonly role: Role
  readonly content: string
}

export interface AgentRequest {
  readonly sessionId: string
  /** Oldest first; the last entry is the inbound user message of this turn. */
  readonly messages: ReadonlyArray<ChatMessage>
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
