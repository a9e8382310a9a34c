// The verdicts of the replica proof, as pure functions of what the load generators recorded, what
// the fake Bot API saw and what the database holds: lost and duplicated messages, transcripts out
// of order, and the longest stretch without a Telegram poller. Unit-tested in Verdicts.test.ts.

/** One stored message, as read from the database (ordered by session, then seq). */
export interface StoredMessage {
  readonly sessionId: string
  readonly platform: string
  readonly chatKey: string
  readonly seq: number
  readonly role: string
  readonly content: string
}

/** An HTTP request answered 200 with a complete body: the gateway says it is stored. */
export interface HttpAck {
  readonly sessionId: string
  readonly text: string
  readonly reply: string
}

/** A Telegram update the gateway confirmed to the fake (a later getUpdates offset passed it). */
export interface TelegramAck {
  readonly updateId: number
  readonly chatId: number
  readonly text: string
}

/** The load generators' message texts: `<conversation>#<n>`, n counting up within a conversation. */
export const messageText = (conversation: string, n: number): string => `${conversation}#${n}`

const indexOf = (text: string): number | undefined => {
  const match = /#(\d+)$/.exec(text)
  return match === null ? undefined : Number(match[1])
}

export const bySession = (messages: ReadonlyArray<StoredMessage>): Map<string, Array<StoredMessage>> => {
  const sessions = new Map<string, Array<StoredMessage>>()
  for (const message of messages) {
    const list = sessions.get(message.sessionId) ?? []
    list.push(message)
    sessions.set(message.sessionId, list)
  }
  for (const list of sessions.values()) list.sort((a, b) => a.seq - b.seq)
  return sessions
}

/**
 * Why a transcript is out of order, or undefined when it is in order: its user messages must come
 * in the order their conversation sent them (n strictly increasing) and every answer (the echo
 * agent's: the user's text) must directly follow the message it answers. A user message without an
 * answer is allowed (a turn cut by a kill and never acknowledged); an answer out of place is not.
 */
export const outOfOrder = (transcript: ReadonlyArray<StoredMessage>): string | undefined => {
  let lastIndex = -1
  let previous: StoredMessage | undefined
  for (const message of transcript) {
    if (message.role === "user") {
      const n = indexOf(message.content)
      if (n === undefined) return `seq ${message.seq}: user message ${JSON.stringify(message.content)} is not one the load sent`
      if (n <= lastIndex) return `seq ${message.seq}: ${JSON.stringify(message.content)} after #${lastIndex}`
      lastIndex = n
    } else if (message.role === "assistant") {
      if (previous?.role !== "user" || previous.content !== message.content) {
        return `seq ${message.seq}: answer ${JSON.stringify(message.content)} follows ${previous === undefined ? "nothing" : `${previous.role} ${JSON.stringify(previous.content)}`}`
      }
    }
    previous = message
  }
  return undefined
}

/** Acknowledged HTTP turns whose question and answer are not both in their session, in that order. */
export const lostHttp = (acks: ReadonlyArray<HttpAck>, sessions: ReadonlyMap<string, ReadonlyArray<StoredMessage>>): Array<HttpAck> =>
  acks.filter((ack) => {
    const transcript = sessions.get(ack.sessionId) ?? []
    const at = transcript.findIndex((m) => m.role === "user" && m.content === ack.text)
    const answer = transcript[at + 1]
    return at < 0 || answer?.role !== "assistant" || answer.content !== ack.reply
  })

/** The update ids below the highest offset any getUpdates sent: those the gateway confirmed. */
export const confirmedBelow = (offsets: ReadonlyArray<number>): number => offsets.reduce((max, o) => Math.max(max, o), 0)

export interface TelegramVerdict {
  /** Confirmed, but the chat never got its answer. */
  readonly unanswered: ReadonlyArray<TelegramAck>
  /** Confirmed, but its text is not in the chat's session. */
  readonly unstored: ReadonlyArray<TelegramAck>
  /** Updates (confirmed or not) whose answer the chat got more than once. */
  readonly duplicated: ReadonlyArray<{ readonly updateId: number; readonly answers: number }>
}

/**
 * For each update: the answers its chat got (the bot's messages whose current text is the echo of
 * the update's text) and whether its text is stored in the chat's Telegram session.
 */
export const telegramVerdict = (
  pushed: ReadonlyArray<TelegramAck>,
  confirmed: (updateId: number) => boolean,
  answersIn: (chatId: number, text: string) => number,
  messages: ReadonlyArray<StoredMessage>
): TelegramVerdict => {
  const stored = new Set(messages.filter((m) => m.platform === "telegram" && m.role === "user").map((m) => `${m.chatKey}\u0000${m.content}`))
  const unanswered: Array<TelegramAck> = []
  const unstored: Array<TelegramAck> = []
  const duplicated: Array<{ updateId: number; answers: number }> = []
  for (const update of pushed) {
    const answers = answersIn(update.chatId, update.text)
    if (answers > 1) duplicated.push({ updateId: update.updateId, answers })
    if (!confirmed(update.updateId)) continue
    if (answers === 0) unanswered.push(update)
    if (!stored.has(`${update.chatId}\u0000${update.text}`)) unstored.push(update)
  }
  return { unanswered, unstored, duplicated }
}

/** One getUpdates request: from its arrival until it was answered or its connection closed. */
export interface PollSpan {
  readonly from: number
  /** undefined: still open at the end of the window. */
  readonly to: number | undefined
}

/**
 * The longest stretch of [windowStart, windowEnd] not covered by any poll: the time the bot had no
 * poller waiting on Telegram (the short turnarounds between one answer and the next request count
 * too, so a healthy poller shows a few milliseconds).
 */
export const longestWithoutPoller = (
  polls: ReadonlyArray<PollSpan>,
  windowStart: number,
  windowEnd: number
): { readonly ms: number; readonly from: number } => {
  const spans = polls
    .map((p) => ({ from: Math.max(p.from, windowStart), to: Math.min(p.to ?? windowEnd, windowEnd) }))
    .filter((p) => p.to >= p.from)
    .sort((a, b) => a.from - b.from)
  let covered = windowStart
  let longest = { ms: 0, from: windowStart }
  for (const span of spans) {
    if (span.from > covered && span.from - covered > longest.ms) longest = { ms: span.from - covered, from: covered }
    covered = Math.max(covered, span.to)
  }
  if (windowEnd - covered > longest.ms) longest = { ms: windowEnd - covered, from: covered }
  return longest
}
