// Group commit under SIGKILL (CONTRACT 9): a burst of concurrent turns shares the SessionDB worker's
// commits; the gateway is SIGKILLed once some of them were acknowledged and others are still in
// flight. Every inbound message a client saw acknowledged (a streamed first byte or a whole answer)
// and every reply it received whole must be in the database the next life opens.
import { randomUUID } from "node:crypto"
import { beforeAll, describe, it } from "vitest"
import { integrityCheck, readDb, sendChat, type ChatOutcome } from "./fixtures/sessions-client.js"
import { assertBuilt, Sandbox, waitFor } from "./harness.js"

beforeAll(assertBuilt)

const burst = 64
const config = ["gateway:", "  drain_timeout: 5s", "adapters:", "  http:", "    port: 0", "agent:", "  echo:", "    delay: 20ms", ""].join("\n")

interface Sent {
  readonly text: string
  readonly stream: boolean
  inboundAcked: boolean
  outcome: ChatOutcome | undefined
}

describe("group commit survives SIGKILL", () => {
  it(`${burst} concurrent turns, SIGKILL after the first acknowledgements: nothing acknowledged is lost`, async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(config)
    const gw = sb.run(home, {}, "burst")
    const port = await gw.waitRunning(30_000)

    const sent: Array<Sent> = Array.from({ length: burst }, (_, i) => ({
      text: `burst ${i} ${randomUUID().slice(0, 8)}`,
      stream: i % 2 === 0,
      inboundAcked: false,
      outcome: undefined
    }))
    const load = sent.map(async (message, i) => {
      message.outcome = await sendChat(port, { text: message.text, stream: message.stream, user: `user-${i % 8}`, timeoutMs: 30_000 }, () => {
        message.inboundAcked = true
      })
      if (message.outcome.complete) message.inboundAcked = true
    })
    await waitFor("some acknowledged turns with others still in flight", () =>
      sent.filter((m) => m.inboundAcked).length >= 8 || sent.every((m) => m.outcome !== undefined), {
      timeoutMs: 30_000,
      intervalMs: 1,
      context: () => gw.describe()
    })
    gw.signal("SIGKILL")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: null, signal: "SIGKILL" })
    await Promise.all(load)

    // The next life recovers (turns left running become interrupted) and stops in order.
    const next = sb.run(home, {}, "recovery")
    await next.waitRunning(30_000)
    const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
    expect(stop.code, stop.stdout + stop.stderr).toBe(0)
    expect((await next.waitExit()).code, next.describe()).toBe(0)

    expect(await integrityCheck(home.dir)).toBe("ok")
    const db = await readDb(home.dir)
    const messages = Array.from(db.transcripts.values()).flatMap((t) => t.messages)
    const inbound = new Set(messages.filter((m) => m.role === "user").map((m) => m.content))
    const replies = new Set(messages.filter((m) => m.role === "assistant").map((m) => m.content))
    const acked = sent.filter((m) => m.inboundAcked)
    const lostInbound = acked.filter((m) => !inbound.has(m.text)).map((m) => m.text)
    const lostReplies = sent.filter((m) => m.outcome?.complete === true && !replies.has(m.text)).map((m) => m.text)
    expect(acked.length).toBeGreaterThan(0)
    expect(lostInbound, "acknowledged inbound messages missing from the database").toEqual([])
    expect(lostReplies, "replies received whole but missing from the database").toEqual([])
    expect(db.turns.filter((t) => t.status === "running")).toEqual([])
  })
})
