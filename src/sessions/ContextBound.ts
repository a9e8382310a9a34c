// Which of a session's messages a turn sends to its agent. A turn must cost the same in a session
// of 20 messages and one of 20,000, so the journal never reads the whole history: it reads the
// session's first system messages and its newest other messages, at most `max` of each, and this
// picks from those. The choice is the one the OpenAI agent makes on the whole transcript (system
// messages first, then the newest), so an agent with a smaller window of its own still sees what
// it saw when the journal handed it everything.
import type { ChatMessage } from "../agents/Agent.js"

/** sessions.max_context_messages when the config does not say. */
export const defaultMaxContextMessages = 200

export interface SeqMessage extends ChatMessage {
  readonly seq: number
}

/**
 * The context of at most `max` messages, in the session's order. `candidates` may be the whole
 * session or only its first `max` system messages and newest `max` others; both give the same
 * answer. The newest message is always kept (it is the one being answered).
 */
export const boundedContext = (candidates: ReadonlyArray<SeqMessage>, max: number): ReadonlyArray<ChatMessage> => {
  const limit = Math.max(1, Math.floor(max))
  const ordered = [...candidates].sort((a, b) => a.seq - b.seq)
  const system = ordered.filter((m) => m.role === "system")
  const rest = ordered.filter((m) => m.role !== "system")
  const recent = rest.slice(-Math.max(1, limit - system.length))
  const keptSystem = system.slice(0, Math.max(0, limit - recent.length))
  return [...keptSystem, ...recent]
    .sort((a, b) => a.seq - b.seq)
    .map((m) => ({ role: m.role, content: m.content }))
}
