// SessionDB crash test, end to end (CONTRACT 5 crash recovery, 9 acknowledgement): round after round
// in ONE home, concurrent HTTP clients chat with a real gateway that is SIGKILLed at a random moment
// with requests in flight. After each kill the gateway must start again on the same home, recover,
// and stop in order; then the database, opened directly, must hold every message a client saw
// acknowledged, pass `PRAGMA integrity_check`, and have no turn left running.
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import { beforeAll, describe, it } from "vitest"
import { dbFileOf, type DbView, integrityCheck, randomInt, readDb, sendChat } from "./fixtures/sessions-client.js"
import { assertBuilt, type Gateway, type Home, Sandbox, sleep, waitFor } from "./harness.js"

beforeAll(assertBuilt)

const rounds = Number(process.env.HERMES_CRASH_ROUNDS ?? 20)
const clients = 10

type KeyKind = "user" | "header" | "none"

/** One message a client sent, and how far its answer got. */
interface Sent {
  readonly seqNo: number
  readonly round: number
  readonly client: number
  readonly text: string
  readonly stream: boolean
  readonly key: KeyKind
  readonly user: string | undefined
  readonly headerSession: string | undefined
  /** The inbound message was acknowledged: a 200 whose first body byte arrived. */
  inboundAcked: boolean
  /** The reply was acknowledged: a whole non-streamed 200, or a stream that reached [DONE]. */
  replyAcked: boolean
  sessionId: string | undefined
  turnId: string | undefined
  status: number | undefined
  error: string | undefined
}

const configWithDelay = (delayMs: number) =>
  // A deliberate crash loop: the respawn-storm breaker (tested on its own) would make later rounds wait.
  ["gateway:", "  drain_timeout: 5s", "  respawn_storm:", "    window: 0", "adapters:", "  http:", "    port: 0", "agent:", "  echo:", `    delay: ${delayMs}ms`, ""].join("\n")

const recoveryRecords = (home: Home) => home.lifecycle().filter((r) => r.event === "session_db_recovery")

describe("SessionDB survives SIGKILL with requests in flight", () => {
  it(`${rounds} rounds of concurrent chats, each ended by SIGKILL; nothing acknowledged is lost`, async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(configWithDelay(10))
    const started = Date.now()
    const sent: Array<Sent> = []
    let seqNo = 0
    let interruptedByRecovery = 0
    let inFlightAtKills = 0
    const unexpected: Array<string> = []
    /** The session each `user` key lives in: it must never change, kills or not. */
    const sessionOfUser = new Map<string, string>()

    let last: Verification | undefined
    let roundsDone = 0
    let lastDb: DbView | undefined
    /** Sent, never acknowledged, yet stored: the commit happened, the kill beat the answer. */
    const committedUnacked = () => {
      if (lastDb === undefined) return 0
      const stored = new Set(
        Array.from(lastDb.transcripts.values()).flatMap((t) => t.messages.filter((m) => m.role === "user").map((m) => m.content))
      )
      return sent.filter((m) => !m.inboundAcked && stored.has(m.text)).length
    }

    try {
      for (let round = 1; round <= rounds; round++) {
        const delayMs = randomInt(5, 50)
        fs.writeFileSync(home.config, configWithDelay(delayMs))
        const gw = sb.run(home, {}, `round ${round} (delay ${delayMs}ms)`)
        const port = await gw.waitRunning(30_000)

        let killed = false
        let inFlight = 0
        const firstOfRound = sent.length
        const client = async (c: number) => {
          let anonymous: string | undefined // the session of this client's last request without a key
          for (let n = 0; !killed; n++) {
            const stream = Math.random() < 0.4
            const roll = Math.random()
            const key: KeyKind = roll < 0.5 ? "user" : roll < 0.75 && anonymous !== undefined ? "header" : "none"
            const message: Sent = {
              seqNo: seqNo++,
              round,
              client: c,
              text: `r${round} c${c} m${n} ${stream ? "stream" : "plain"} ${randomUUID().slice(0, 8)}`,
              stream,
              key,
              user: key === "user" ? `user-${c}` : undefined,
              headerSession: key === "header" ? anonymous : undefined,
              inboundAcked: false,
              replyAcked: false,
              sessionId: undefined,
              turnId: undefined,
              status: undefined,
              error: undefined
            }
            sent.push(message)
            inFlight++
            const outcome = await sendChat(port, {
              text: message.text,
              stream,
              ...(message.user !== undefined ? { user: message.user } : {}),
              ...(message.headerSession !== undefined ? { session: message.headerSession } : {}),
              timeoutMs: 30_000
            }, ({ sessionId }) => {
              // Recorded the moment the first byte arrives, before anything else can happen.
              message.inboundAcked = true
              message.sessionId = sessionId
            })
            inFlight--
            message.status = outcome.status
            message.error = outcome.error
            message.sessionId ??= outcome.sessionId
            message.turnId = outcome.turnId
            if (outcome.complete) {
              message.replyAcked = true
              if (outcome.reply !== message.text) unexpected.push(`${message.text}: reply ${JSON.stringify(outcome.reply)}`)
            }
            if (outcome.status !== undefined && outcome.status !== 200 && !killed) {
              unexpected.push(`${message.text}: HTTP ${outcome.status} ${JSON.stringify(outcome.body)}`)
            }
            if (outcome.error !== undefined) {
              if (!killed) unexpected.push(`${message.text}: ${outcome.error} before the kill`)
              break // the gateway is gone
            }
            if (key === "none" && outcome.sessionId !== undefined) anonymous = outcome.sessionId
          }
        }
        const load = Array.from({ length: clients }, (_, c) => client(c))

        // SIGKILL at a random moment while requests are in flight. A fresh process answers its first
        // requests slowly (JIT warm-up), so on a busy machine a short delay could pass before anything
        // was acknowledged: then the kill waits for this round's first acknowledgement, so that every
        // round has something to lose.
        await sleep(randomInt(50, 600))
        await waitFor("an acknowledgement in this round, and requests in flight", () =>
          !gw.alive || (inFlight > 0 && sent.slice(firstOfRound).some((m) => m.inboundAcked)), {
          timeoutMs: 30_000,
          intervalMs: 1,
          context: () => gw.describe()
        })
        expect(gw.alive, gw.describe()).toBe(true)
        inFlightAtKills += inFlight
        killed = true
        gw.signal("SIGKILL")
        expect(await gw.waitExit(), gw.describe()).toEqual({ code: null, signal: "SIGKILL" })
        await Promise.all(load)

        // The next life must start (never blocked), recover, and stop in order.
        const before = recoveryRecords(home).length
        const next = sb.run(home, {}, `round ${round} recovery`)
        await next.waitRunning(30_000)
        const records = recoveryRecords(home)
        expect(records.length, next.describe()).toBe(before + 1)
        const record = records.at(-1)!
        expect(record, JSON.stringify(record)).toMatchObject({
          file: dbFileOf(home.dir),
          previous_life_crashed: true,
          integrity: "ok",
          moved_aside: null,
          turns_failed: 0,
          sessions_suspended: []
        })
        interruptedByRecovery += record.turns_interrupted as number
        const startRecord = home.lifecycle().filter((r) => r.event === "start").at(-1)!
        expect(startRecord.previous_life?.verdict).toBe("died_without_shutdown")
        await stopInOrder(sb, home, next)

        // The database, opened directly (no gateway alive).
        expect(await integrityCheck(home.dir)).toBe("ok")
        const db = await readDb(home.dir)
        lastDb = db
        expect(db.turns.filter((t) => t.status === "running"), "no turn is left running after recovery").toEqual([])
        const interrupted = db.turns.filter((t) => t.status === "interrupted")
        expect(interrupted.length, "every interrupted turn was interrupted by a recovery").toBe(interruptedByRecovery)
        for (const turn of interrupted) {
          expect(turn).toMatchObject({ reason: "gateway died without shutting down", interruptedLives: 1, delivery: "request_response" })
        }

        last = verify(sent, db, sessionOfUser)
        roundsDone = round
        expect(last.problems, `lost or misplaced after round ${round}:\n${last.problems.join("\n")}`).toEqual([])
        expect(unexpected, unexpected.join("\n")).toEqual([])
      }
    } finally {
      // The figures, printed whether the test passed or not.
      const acked = sent.filter((m) => m.inboundAcked)
      const figures = {
        rounds: roundsDone,
        messages_sent: sent.length,
        acknowledged_inbound: acked.length,
        acknowledged_streamed_first_byte_only: acked.filter((m) => m.stream && !m.replyAcked).length,
        acknowledged_replies: sent.filter((m) => m.replyAcked).length,
        verified_inbound: last?.verified ?? 0,
        verified_replies: last?.repliesVerified ?? 0,
        lost: last?.lost ?? "not verified",
        committed_but_unacknowledged: committedUnacked(),
        in_flight_at_kills: inFlightAtKills,
        turns_interrupted_by_recovery: interruptedByRecovery,
        seconds: Math.round((Date.now() - started) / 100) / 10
      }
      process.stdout.write(`\nsessions-crash figures ${JSON.stringify(figures)}\n`)
    }

    const acked = sent.filter((m) => m.inboundAcked)
    expect(last!.verified).toBe(acked.length)
    expect(last!.repliesVerified).toBe(sent.filter((m) => m.replyAcked).length)
    expect(last!.lost).toBe(0)
    expect(new Set(acked.map((m) => m.round)).size, "every round acknowledged something").toBe(rounds)
    expect(interruptedByRecovery, "kills landed while turns were running").toBeGreaterThan(0)
  }, 300_000)
})

const stopInOrder = async (sb: Sandbox, home: Home, gw: Gateway) => {
  const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
  expect0(stop.code, `hermes gateway stop: ${stop.stdout}${stop.stderr}`)
  const exit = await gw.waitExit()
  expect0(exit.code, `gateway exit ${JSON.stringify(exit)}\n${gw.describe()}`)
}

const expect0 = (code: number | null, what: string) => {
  if (code !== 0) throw new Error(`expected exit 0: ${what}`)
}

interface Verification {
  readonly problems: ReadonlyArray<string>
  /** Acknowledged inbound messages found in their session's transcript. */
  readonly verified: number
  /** Acknowledged replies found, right turn, turn completed. */
  readonly repliesVerified: number
  /** Acknowledged messages (inbound or reply) missing from the database. */
  readonly lost: number
}

/**
 * Every acknowledged inbound message is in its session's transcript (as a user message of its own
 * turn), every acknowledged reply right after, each `user` key keeps one session, and a session's
 * acknowledged messages are in the order they were sent. Returns what is missing or misplaced.
 */
const verify = (
  sent: ReadonlyArray<Sent>,
  db: DbView,
  sessionOfUser: Map<string, string>
): Verification => {
  const problems: Array<string> = []
  let verified = 0
  let repliesVerified = 0
  let lost = 0
  const lastSeq = new Map<string, number>()
  for (const m of sent) {
    if (!m.inboundAcked) continue
    const where = `${m.text} (session ${m.sessionId}, turn ${m.turnId}, ${m.stream ? "stream" : "plain"}, key ${m.key})`
    if (m.sessionId === undefined) {
      problems.push(`${where}: acknowledged without an X-Hermes-Session header`)
      continue
    }
    if (m.user !== undefined) {
      const known = sessionOfUser.get(m.user)
      if (known === undefined) sessionOfUser.set(m.user, m.sessionId)
      else if (known !== m.sessionId) problems.push(`${where}: user ${m.user} moved from session ${known}`)
    }
    if (m.headerSession !== undefined && m.headerSession !== m.sessionId) {
      problems.push(`${where}: X-Hermes-Session ${m.headerSession} was not continued`)
    }
    const transcript = db.transcripts.get(m.sessionId)
    if (transcript === undefined) {
      problems.push(`${where}: LOST, no such session in the database`)
      lost++
      continue
    }
    const inbound = transcript.messages.find((x) => x.role === "user" && x.content === m.text)
    if (inbound === undefined) {
      problems.push(`${where}: LOST, inbound message not in the transcript`)
      lost++
      continue
    }
    verified++
    if (m.turnId !== undefined && inbound.turnId !== m.turnId) problems.push(`${where}: stored under turn ${inbound.turnId}`)
    const previous = lastSeq.get(m.sessionId) ?? 0
    if (inbound.seq <= previous) problems.push(`${where}: seq ${inbound.seq} not after ${previous} (out of order)`)
    lastSeq.set(m.sessionId, inbound.seq)
    if (m.replyAcked) {
      const reply = transcript.messages.find((x) => x.role === "assistant" && x.turnId === inbound.turnId)
      if (reply === undefined || reply.content !== m.text) {
        problems.push(`${where}: LOST reply (${m.stream ? "stream reached [DONE]" : "200 received"}), found ${JSON.stringify(reply)}`)
        lost++
      } else if (reply.turnStatus !== "completed") {
        problems.push(`${where}: reply stored but turn is ${reply.turnStatus}`)
      } else {
        repliesVerified++
      }
    } else if (inbound.turnStatus === "running") {
      problems.push(`${where}: turn still running`)
    }
  }
  return { problems, verified, repliesVerified, lost }
}
