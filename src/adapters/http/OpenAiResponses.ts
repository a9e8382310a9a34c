// The OpenAI wire shapes this adapter answers with: error objects, completions, stream chunks and
// model lists. Pure data, so every route builds the same shapes the official clients parse.

/** OpenAI's error envelope; clients read `error.message` and `error.code`. */
export interface OpenAiError {
  readonly error: {
    readonly message: string
    readonly type: string
    readonly param: string | null
    readonly code: string | null
  }
}

export const errorBody = (
  message: string,
  type: string,
  options: { readonly param?: string | null; readonly code?: string | null } = {}
): OpenAiError => ({
  error: { message, type, param: options.param ?? null, code: options.code ?? null }
})

export interface Usage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly total_tokens: number
}

/**
 * A rough token count (whitespace-separated words). The gateway does not know the agent's
 * tokenizer; clients only need plausible, non-negative numbers.
 */
export const roughTokenCount = (text: string): number => {
  const trimmed = text.trim()
  return trimmed === "" ? 0 : trimmed.split(/\s+/).length
}

export const usageOf = (promptTexts: ReadonlyArray<string>, reply: string): Usage => {
  const prompt_tokens = promptTexts.reduce((sum, text) => sum + roughTokenCount(text), 0)
  const completion_tokens = roughTokenCount(reply)
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens }
}

/** The completion id is derived from the turn id so a client-visible id leads to the turn journal. */
export const completionId = (turnId: string): string => `chatcmpl-${turnId}`

export interface CompletionFields {
  readonly id: string
  /** Unix seconds. */
  readonly created: number
  readonly model: string
}

/** OpenAI's finish reasons this gateway can pass on: "length" when max_tokens cut the answer. */
export type FinishReason = "stop" | "length" | "content_filter"

export const chatCompletion = (
  fields: CompletionFields & { readonly reply: string; readonly usage: Usage; readonly finishReason?: FinishReason | undefined }
) => ({
  id: fields.id,
  object: "chat.completion" as const,
  created: fields.created,
  model: fields.model,
  choices: [{
    index: 0,
    message: { role: "assistant" as const, content: fields.reply },
    logprobs: null,
    finish_reason: fields.finishReason ?? "stop"
  }],
  usage: fields.usage
})

export interface ChunkDelta {
  readonly role?: "assistant"
  readonly content?: string
}

export const chatCompletionChunk = (
  fields: CompletionFields & { readonly delta: ChunkDelta; readonly finishReason: FinishReason | null }
) => ({
  id: fields.id,
  object: "chat.completion.chunk" as const,
  created: fields.created,
  model: fields.model,
  choices: [{ index: 0, delta: fields.delta, logprobs: null, finish_reason: fields.finishReason }]
})

/** The trailing chunk OpenAI sends when a client asks for `stream_options.include_usage`. */
export const usageChunk = (fields: CompletionFields & { readonly usage: Usage }) => ({
  id: fields.id,
  object: "chat.completion.chunk" as const,
  created: fields.created,
  model: fields.model,
  choices: [],
  usage: fields.usage
})

export const modelObject = (model: string, created: number) => ({
  id: model,
  object: "model" as const,
  created,
  owned_by: "hermes"
})

export const modelList = (model: string, created: number) => ({
  object: "list" as const,
  data: [modelObject(model, created)]
})
