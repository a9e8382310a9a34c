// The answer both anchors give: an OpenAI chat.completion whose content is the last message's.
// Kept to what a client reads (id, choices[0].message, finish_reason, usage), like the gateway's echo.
export interface EchoCompletion {
  readonly id: string
  readonly object: "chat.completion"
  readonly created: number
  readonly model: string
  readonly choices: ReadonlyArray<{
    readonly index: number
    readonly message: { readonly role: "assistant"; readonly content: string }
    readonly finish_reason: "stop"
  }>
  readonly usage: { readonly prompt_tokens: number; readonly completion_tokens: number; readonly total_tokens: number }
}

let served = 0

/** Throws on a body that is not `{ messages: [{ content: string }, ...] }`. */
export const echoCompletion = (body: unknown): EchoCompletion => {
  const messages = (body as { messages?: unknown }).messages
  if (!Array.isArray(messages) || messages.length === 0) throw new Error("messages: expected a non-empty array")
  const content = (messages[messages.length - 1] as { content?: unknown }).content
  if (typeof content !== "string") throw new Error("messages[-1].content: expected a string")
  const tokens = content.split(/\s+/).length
  return {
    id: `chatcmpl-echo-${++served}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: "echo",
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage: { prompt_tokens: tokens, completion_tokens: tokens, total_tokens: 2 * tokens }
  }
}
