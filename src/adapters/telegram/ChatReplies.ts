// Everything the bot says that the agent did not write: refusals, notices around stops and
// restarts, and the chat commands /status and /restart. Pure, so the wording is tested in one place.
import * as Duration from "effect/Duration"
import { formatDuration } from "../../config/Duration.js"
import type { GatewayView, StopReason } from "../Adapter.js"

export type ChatCommand = "status" | "restart"

/**
 * `/status` and `/restart`, also in the `/status@this_bot` form Telegram uses in groups. A command
 * addressed to another bot, or any other slash command (e.g. /start), is not ours: it goes to the
 * agent as an ordinary message.
 */
export const parseCommand = (text: string, botUsername: string | null): ChatCommand | undefined => {
  const match = /^\/([a-z_]+)(?:@([A-Za-z0-9_]+))?(?:\s|$)/i.exec(text.trim())
  if (match === null) return undefined
  const [, name, addressee] = match as unknown as [string, string, string | undefined]
  if (addressee !== undefined && addressee.toLowerCase() !== botUsername?.toLowerCase()) return undefined
  const command = name.toLowerCase()
  return command === "status" || command === "restart" ? command : undefined
}

/** The start of a user's message, to say which one a notice is about. */
export const quote = (text: string, limit = 80): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return `“${flat.length > limit ? `${flat.slice(0, limit - 1)}…` : flat}”`
}

/** Sent when a turn is recorded and edited into its answer (so a resend after a crash is an edit). */
export const placeholderText = "…"
export const privateBotReply = "Sorry, this bot is private."
export const notTextReply = "Sorry, I can only read text messages."
export const failedReply = (message: string) => `Sorry, something went wrong: ${message}`
/** The message was not recorded; internal details stay in the log. */
export const refusedReply = (reason: "session_suspended" | "storage" | "busy") =>
  reason === "session_suspended"
    ? "Sorry, this conversation is paused: a message in it crashed the gateway three times. " +
      "Your message was not taken; the operator can resume the conversation."
    : "Sorry, your message could not be taken (the gateway cannot save it right now); please send it again later."
/** Sent to chats with a turn in flight when shutdown begins (CONTRACT 5, step 3). */
export const stopNotice = (reason: StopReason) => `Gateway is ${reason}; your message is saved.`
export const resumeNotice = (inbound: string) => `Resuming your message after a restart: ${quote(inbound)}`
export const notAnsweredReply = (inbound: string, reason: string) => `Your message ${quote(inbound)} was not answered: ${reason}.`
export const restartingReply = "Restarting the gateway. Messages sent meanwhile are answered once it is back."
export const restartNotAllowedReply =
  "Only users listed in adapters.telegram.allowed_users may restart the gateway."
export const restartedNotice = (pid: number) => `Gateway restarted and running again (pid ${pid}).`

/** The answer to /status. */
export const statusReply = (view: GatewayView, nowMs: number): string => {
  const started = Date.parse(view.startedAt)
  const uptime = Number.isFinite(started) && nowMs >= started
    ? formatDuration(Duration.seconds(Math.floor((nowMs - started) / 1000)))
    : "unknown"
  const platforms = Object.entries(view.platforms)
    .map(([name, p]) => `${name}: ${p.state}${p.error !== null ? ` (${p.error})` : ""}`)
  return [
    `Hermes gateway: ${view.state}`,
    `pid ${view.pid}, up ${uptime}${view.supervisor !== null ? `, supervised by ${view.supervisor}` : ""}`,
    `turns in progress: ${view.activeTurns}`,
    ...platforms,
    `agent: ${view.agent}`
  ].join("\n")
}
