// What one incoming update asks of the gateway, decided without I/O: nothing (not a message we
// read), a refusal (a user not allowed), "I only read text", a chat command, or a turn.
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { TelegramMessage, type TelegramUpdate, type TelegramUser } from "./BotApi.js"
import { type ChatCommand, parseCommand } from "./ChatReplies.js"

/** Whether `from` is named in `allowed` (by id or username); nobody is named in an empty list. */
export const isListedUser = (allowed: ReadonlyArray<number | string>, from: TelegramUser | undefined): boolean => {
  if (from === undefined) return false
  const username = from.username?.toLowerCase()
  return allowed.some((entry) => entry === from.id || (username !== undefined && entry === username))
}

/** May talk to the bot: everyone when allowed_users is empty. */
export const isAllowedUser = (allowed: ReadonlyArray<number | string>, from: TelegramUser | undefined): boolean =>
  allowed.length === 0 || isListedUser(allowed, from)

/** May restart the gateway from chat: only users named in allowed_users, never "everyone". */
export const mayRestart = isListedUser

export type Route =
  /** No message, or none we can read: handled at once. */
  | { readonly _tag: "Ignore"; readonly updateId: number }
  | { readonly _tag: "Refuse"; readonly updateId: number; readonly chatId: number; readonly userId: string }
  | { readonly _tag: "NotText"; readonly updateId: number; readonly chatId: number }
  | {
    readonly _tag: "Command"
    readonly updateId: number
    readonly chatId: number
    readonly command: ChatCommand
    readonly from: TelegramUser | undefined
  }
  | { readonly _tag: "Turn"; readonly updateId: number; readonly chatId: number; readonly text: string; readonly user: string }

const decodeMessage = Schema.decodeUnknownOption(TelegramMessage)

export const routeUpdate = (
  update: TelegramUpdate,
  allowedUsers: ReadonlyArray<number | string>,
  botUsername: string | null
): Route => {
  const updateId = update.update_id
  const decoded = update.message === undefined ? Option.none() : decodeMessage(update.message)
  if (Option.isNone(decoded)) return { _tag: "Ignore", updateId }
  const { chat, from, text } = decoded.value
  const chatId = chat.id
  if (!isAllowedUser(allowedUsers, from)) return { _tag: "Refuse", updateId, chatId, userId: String(from?.id ?? "unknown") }
  if (typeof text !== "string") return { _tag: "NotText", updateId, chatId }
  const command = parseCommand(text, botUsername)
  if (command !== undefined) return { _tag: "Command", updateId, chatId, command, from }
  return { _tag: "Turn", updateId, chatId, text, user: from?.username ?? String(from?.id ?? chatId) }
}
