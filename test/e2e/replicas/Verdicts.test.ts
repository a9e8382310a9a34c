// The replica proof's verdicts on hand-made data: each must catch the fault it exists for, or the
// proof would pass on a broken gateway.
import { describe, it } from "vitest"
import { bySession, longestWithoutPoller, lostHttp, messageText, outOfOrder, type StoredMessage, telegramVerdict } from "./Verdicts.js"

let seq = 0
const msg = (sessionId: string, role: string, content: string, platform = "api_server", chatKey = sessionId): StoredMessage => ({
  sessionId,
  platform,
  chatKey,
  seq: ++seq,
  role,
  content
})

describe("replica proof verdicts", () => {
  it("a transcript in order passes; a question out of order, an answer out of place and a foreign message do not", ({ expect }) => {
    const a0 = messageText("a", 0)
    const a1 = messageText("a", 1)
    const a2 = messageText("a", 2)
    expect(outOfOrder([msg("s", "user", a0), msg("s", "assistant", a0), msg("s", "user", a1), msg("s", "user", a2), msg("s", "assistant", a2)]))
      .toBeUndefined()
    expect(outOfOrder([msg("s", "user", a1), msg("s", "user", a0)])).toMatch(/a#0.*after #1/)
    expect(outOfOrder([msg("s", "user", a0), msg("s", "user", a1), msg("s", "assistant", a0)])).toMatch(/answer "a#0" follows user "a#1"/)
    expect(outOfOrder([msg("s", "user", a0), msg("s", "assistant", a0), msg("s", "assistant", a0)])).toMatch(/follows assistant/)
    expect(outOfOrder([msg("s", "user", "hello")])).toMatch(/not one the load sent/)
  })

  it("an acknowledged HTTP turn is lost when its question or its answer is missing from its session", ({ expect }) => {
    const sessions = bySession([msg("s1", "user", "x#0"), msg("s1", "assistant", "x#0"), msg("s1", "user", "x#1")])
    const acks = [
      { sessionId: "s1", text: "x#0", reply: "x#0" },
      { sessionId: "s1", text: "x#1", reply: "x#1" },
      { sessionId: "s2", text: "y#0", reply: "y#0" }
    ]
    expect(lostHttp(acks, sessions).map((a) => a.text)).toEqual(["x#1", "y#0"])
  })

  it("Telegram: a confirmed update without an answer or not stored is lost; two answers are a duplicate, confirmed or not", ({ expect }) => {
    const pushed = [
      { updateId: 1, chatId: 7, text: "c#0" },
      { updateId: 2, chatId: 7, text: "c#1" },
      { updateId: 3, chatId: 7, text: "c#2" },
      { updateId: 4, chatId: 7, text: "c#3" }
    ]
    const answers: Record<string, number> = { "c#0": 1, "c#1": 0, "c#2": 2, "c#3": 0 }
    const stored = [msg("t", "user", "c#0", "telegram", "7"), msg("t", "user", "c#2", "telegram", "7")]
    const verdict = telegramVerdict(pushed, (id) => id <= 3, (_, text) => answers[text]!, stored)
    expect(verdict.unanswered.map((u) => u.updateId)).toEqual([2])
    expect(verdict.unstored.map((u) => u.updateId)).toEqual([2])
    expect(verdict.duplicated).toEqual([{ updateId: 3, answers: 2 }])
  })

  it("the longest stretch without a poller counts the edges of the window and polls still open", ({ expect }) => {
    expect(longestWithoutPoller([{ from: 0, to: 10 }, { from: 10, to: 20 }], 0, 20).ms).toBe(0)
    expect(longestWithoutPoller([{ from: 0, to: 10 }, { from: 14, to: 20 }, { from: 25, to: undefined }], 0, 40))
      .toEqual({ ms: 5, from: 20 })
    // Overlapping polls (two pollers at once) cover, they do not reset the coverage.
    expect(longestWithoutPoller([{ from: 0, to: 30 }, { from: 5, to: 8 }, { from: 31, to: 40 }], 0, 40).ms).toBe(1)
    expect(longestWithoutPoller([{ from: 5, to: 8 }], 0, 20)).toEqual({ ms: 12, from: 8 })
    expect(longestWithoutPoller([], 100, 130).ms).toBe(30)
  })
})
