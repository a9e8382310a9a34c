// Telegram load through the fake Bot API: `chats` private chats, each pushing its next message
// (`tg<chat>#<n>`) once the previous one is answered, or after `patienceMs` without an answer (a
// user does not wait for ever: then two of its messages are in flight, which per-session ordering
// must handle). What the gateway confirmed and answered is read from the fake afterwards.
import type { FakeTelegram } from "../fakes/FakeTelegram.js"
import { confirmedBelow, messageText, type PollSpan, type TelegramAck } from "./Verdicts.js"

export class TelegramLoad {
  readonly pushed: Array<TelegramAck> = []
  private running = true
  private readonly done: Promise<void>

  constructor(private readonly tg: FakeTelegram, chats: number, firstChatId: number, private readonly patienceMs: number) {
    this.done = Promise.all(Array.from({ length: chats }, (_, c) => this.chat(firstChatId + c))).then(() => undefined)
  }

  async stop(): Promise<void> {
    this.running = false
    await this.done
  }

  /** The bot's messages in the chat whose current text is the echo of `text`. */
  answersIn(chatId: number, text: string): number {
    return this.tg.sent.filter((m) => m.chatId === chatId && m.text === text).length
  }

  /** Below this update id, every update was confirmed by a getUpdates offset. */
  confirmedBelow(): number {
    return confirmedBelow(this.tg.callsOf("getUpdates").filter((c) => c.tokenOk).map((c) => Number(c.params.offset ?? 0) || 0))
  }

  confirmed(): Array<TelegramAck> {
    const below = this.confirmedBelow()
    return this.pushed.filter((u) => u.updateId < below)
  }

  /** Every getUpdates, from its arrival until it was answered or its client went away. */
  polls(): Array<PollSpan> {
    return this.tg.callsOf("getUpdates").filter((c) => c.tokenOk).map((c) => ({ from: c.at, to: c.answeredAt ?? c.closedAt }))
  }

  /**
   * Once the load stopped: until every pushed update is confirmed and answered, or the deadline
   * (then the verdict counts what is missing among the confirmed ones).
   */
  async settle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    const pending = () => this.confirmedBelow() <= Math.max(0, ...this.pushed.map((u) => u.updateId)) ||
      this.pushed.some((u) => this.answersIn(u.chatId, u.text) === 0)
    while (pending() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    return !pending()
  }

  private async chat(chatId: number): Promise<void> {
    for (let n = 0; this.running; n++) {
      const text = messageText(`tg${chatId}`, n)
      const updateId = this.tg.push({ chatId, text })
      this.pushed.push({ updateId, chatId, text })
      const deadline = Date.now() + this.patienceMs
      while (this.running && this.answersIn(chatId, text) === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
  }
}
