// Issue 15's proof: three gateway replicas (the built CLI, each with its own home) share one real
// PostgreSQL behind a loopback round-robin load balancer, under load on both platforms: HTTP chat
// completions through the balancer and Telegram updates through the fake Bot API. First a rolling
// restart (planned stop, exit 0, start, /readyz, next replica), then a random replica SIGKILLed
// every few seconds for 60 s and started again at once, as a supervisor would. The report counts
// what was acknowledged, lost, answered twice, stored out of order, and the longest time the bot
// had no poller; the test asserts each against the issue's bound.
import * as Effect from "effect/Effect"
import { beforeAll, describe, it } from "vitest"
import { pgRawQuery, postgresSkipReason, postgresUrl, urlFor } from "../unit/sessions/postgres.js"
import { FakeTelegram } from "./fakes/FakeTelegram.js"
import { LoadBalancer } from "./fakes/LoadBalancer.js"
import { assertBuilt, sleep, waitFor } from "./harness.js"
import { databaseFor } from "./fixtures/scratch-database.js"
import { ChatLoad } from "./replicas/ChatLoad.js"
import { type Replica, ReplicaSet } from "./replicas/ReplicaSet.js"
import { TelegramLoad } from "./replicas/TelegramLoad.js"
import { bySession, longestWithoutPoller, lostHttp, outOfOrder, type StoredMessage, telegramVerdict } from "./replicas/Verdicts.js"

beforeAll(assertBuilt)

// Development knobs (CI uses the issue's figures): REPLICAS_PROOF_COUNT, REPLICAS_PROOF_KILL_SECONDS,
// REPLICAS_PROOF_TELEGRAM=0 (see withTelegram), REPLICAS_SEED (the kill sequence).
const replicaCount = Number(process.env.REPLICAS_PROOF_COUNT ?? 3)
const killPhaseMs = Number(process.env.REPLICAS_PROOF_KILL_SECONDS ?? 60) * 1000
/** adapters.telegram.poll_timeout, in seconds: the bound on a poller gap is this + 10 s. */
const pollTimeoutSeconds = 1
/** Telegram load too (leader election across replicas, issue 15 item 3); REPLICAS_PROOF_TELEGRAM=0: HTTP alone. */
const withTelegram = process.env.REPLICAS_PROOF_TELEGRAM !== "0"

/**
 * Faults this proof found and that are not fixed on main yet: while any is listed the proof is
 * skipped, naming them (REPLICAS_PROOF=1 runs it anyway, to see the report). Remove an entry with
 * its fix; with none left the proof runs wherever POSTGRES_TEST_URL is set.
 */
const openFaults: ReadonlyArray<string> = []
const skipReason = postgresUrl === undefined
  ? postgresSkipReason
  : openFaults.length > 0 && process.env.REPLICAS_PROOF !== "1"
  ? `open faults: ${openFaults.join("; ")}`
  : undefined

/** A small seeded generator, so a failing run's kill sequence can be replayed (REPLICAS_SEED). */
const seededRandom = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const storedMessages = async (database: string): Promise<Array<StoredMessage>> => {
  const [rows] = await Effect.runPromise(pgRawQuery(database, [[
    "SELECT m.session_id, s.platform, s.chat_key, m.seq, m.role, m.content FROM messages m JOIN sessions s ON s.id = m.session_id ORDER BY m.session_id, m.seq"
  ]]))
  return rows!.map((r) => ({
    sessionId: String(r.session_id),
    platform: String(r.platform),
    chatKey: String(r.chat_key),
    seq: Number(r.seq),
    role: String(r.role),
    content: String(r.content)
  }))
}

const turnStatuses = async (database: string): Promise<string> => {
  const [rows] = await Effect.runPromise(pgRawQuery(database, [["SELECT status, COUNT(*) AS n FROM turns GROUP BY status ORDER BY status"]]))
  return rows!.map((r) => `${r.status}=${r.n}`).join(" ")
}

/**
 * Sessions whose turns were run by more than one replica (turns.owner, schema version 4): the proof
 * that any replica continues any session. undefined on a schema without owners.
 */
const sessionsOnSeveralReplicas = (database: string): Promise<number | undefined> =>
  Effect.runPromise(
    pgRawQuery(database, [["SELECT COUNT(*) AS n FROM (SELECT session_id FROM turns GROUP BY session_id HAVING COUNT(DISTINCT owner) > 1) AS shared"]]).pipe(
      Effect.map(([rows]) => Number(rows![0]!.n)),
      Effect.catchAllDefect(() => Effect.succeed(undefined))
    )
  )

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

describe.skipIf(skipReason !== undefined)(
  `${replicaCount} replicas on one PostgreSQL behind a load balancer${skipReason !== undefined ? ` (skipped: ${skipReason})` : ""}`,
  () => {
    it("a rolling restart, then a replica SIGKILLed every few seconds for 60 s: nothing acknowledged is lost, nothing answered twice, every transcript in order", async (ctx) => {
      const { expect } = ctx
      const seed = Number(process.env.REPLICAS_SEED ?? Date.now() % 1_000_000)
      const random = seededRandom(seed)
      const database = await databaseFor(ctx)
      const tg = withTelegram ? await FakeTelegram.start(ctx) : undefined
      const set = new ReplicaSet(ctx, {
        databaseUrl: urlFor(database),
        echoDelay: "50ms",
        drainTimeout: "5s",
        ...(tg !== undefined ? { telegram: { url: tg.url, token: tg.token, pollTimeout: `${pollTimeoutSeconds}s` } } : {})
      })
      await set.start(replicaCount)
      const balancer = await LoadBalancer.start(ctx, set.ports)

      const loadStart = Date.now()
      const chats = new ChatLoad(balancer.port, 4, "http", () => sleep(100))
      const telegram = tg !== undefined ? new TelegramLoad(tg, 3, 1001, 5_000) : undefined
      ctx.onTestFinished(async () => {
        await chats.stop()
        await telegram?.stop()
      })
      /** Until `count` more messages were acknowledged on each platform: the replicas serve. */
      const progress = async (what: string, count = 5) => {
        const http0 = chats.acks().length
        const tg0 = telegram?.confirmed().length ?? 0
        await waitFor(`${count} more acknowledgements ${what}`, () =>
          chats.acks().length >= http0 + count && (telegram === undefined || telegram.confirmed().length >= tg0 + count), {
          timeoutMs: 60_000,
          context: () => `http: ${JSON.stringify(chats.tally())}${tg !== undefined ? `\n${tg.summary()}` : ""}`
        })
      }
      await progress("before the rolling restart")

      // A life that ends by itself (neither stopped nor killed by the test) is started again, as a
      // supervisor would, so that the report stays complete; it fails the test at the end.
      const unexpectedExits: Array<string> = []
      const noteExit = async (replica: Replica) => {
        const exit = await replica.life.exited
        const exiting = replica.life.stderr.split("\n").filter((line) => line.includes("gateway exiting")).at(-1) ?? ""
        // The log line quotes its message, so the reason's quotes arrive escaped: reason=\"...\"
        const reason = /reason=\\?"(.*?)\\?"+$/.exec(exiting.trim())?.[1] ?? exiting
        unexpectedExits.push(`replica ${replica.index} life ${replica.lives} exited by itself (${exit.code ?? exit.signal}): ${reason}`)
      }
      /** Until the replica is ready, starting it again while it exits on its own (at most 5 times). */
      const superviseUntilReady = async (replica: Replica) => {
        let ready = false
        for (let attempt = 1; !ready; attempt++) {
          try {
            await set.waitReady(replica)
            ready = true
          } catch (error) {
            if (replica.life.alive || attempt >= 5) throw error
            await noteExit(replica)
            set.spawn(replica)
          }
        }
      }
      // Rolling restart: planned stop (exit 0), start, ready, and the next replica.
      const rollingStart = Date.now()
      for (const replica of set.replicas) {
        const stopped = await set.stopPlanned(replica)
        expect(stopped.cli, `hermes gateway stop (replica ${replica.index}): ${stopped.stderr}`).toBe(0)
        expect(stopped.daemon, `replica ${replica.index}'s planned stop\n${replica.life.describe()}`).toBe(0)
        set.spawn(replica)
        await superviseUntilReady(replica)
        await progress(`after replica ${replica.index} restarted`)
      }
      const rollingMs = Date.now() - rollingStart

      // SIGKILLs: every 2–5 s a random replica, started again at once (a supervisor's restart).
      const kills: Array<{ at: number; replica: number; pid: number }> = []
      const killStart = Date.now()
      while (Date.now() - killStart < killPhaseMs) {
        await sleep(Math.min(2_000 + Math.floor(random() * 3_000), Math.max(0, killPhaseMs - (Date.now() - killStart))))
        if (Date.now() - killStart >= killPhaseMs) break
        const replica: Replica = set.replicas[Math.floor(random() * set.replicas.length)]!
        if (!replica.life.alive) {
          await noteExit(replica)
        } else {
          kills.push({ at: Date.now() - killStart, replica: replica.index, pid: replica.life.pid })
          await set.kill(replica)
        }
        set.spawn(replica)
      }
      for (const replica of set.replicas) await superviseUntilReady(replica)
      await progress("after the SIGKILLs")
      await chats.stop()
      await telegram?.stop()
      const loadEnd = Date.now()
      const settled = (await telegram?.settle(30_000)) ?? true

      // Every replica stops as planned: exit 0.
      for (const replica of set.replicas) {
        const stopped = await set.stopPlanned(replica)
        expect(stopped.cli, stopped.stderr).toBe(0)
        expect(stopped.daemon, replica.life.describe()).toBe(0)
      }

      const messages = await storedMessages(database)
      const sessions = bySession(messages)
      const httpAcks = chats.acks()
      const httpLost = lostHttp(httpAcks, sessions)
      const disordered = [...sessions].flatMap(([id, transcript]) => {
        const why = outOfOrder(transcript)
        if (why === undefined) return []
        // The neighbourhood of the first misplaced message, compact: u/a + the message's number.
        const at = Number(/^seq (\d+)/.exec(why)?.[1] ?? 0)
        const around = transcript.filter((m) => Math.abs(m.seq - at) <= 8).map((m) => `${m.seq}:${m.role[0]}${m.content.replace(/^.*#/, "")}`)
        return [`${id} (${transcript[0]?.chatKey}): ${why}; around it: ${around.join(" ")}`]
      })
      const tgVerdict = telegram !== undefined
        ? telegramVerdict(telegram.pushed, (id) => id < telegram.confirmedBelow(), (chat, text) => telegram.answersIn(chat, text), messages)
        : undefined
      const gap = telegram !== undefined ? longestWithoutPoller(telegram.polls(), loadStart, loadEnd) : undefined
      const strayPlaceholders = tg?.sent.filter((m) => m.text === "\u2026").length ?? 0

      const report = [
        `replica proof, seed ${seed}: ${replicaCount} replicas on PostgreSQL behind a round-robin balancer, echo agent 50 ms`,
        `  rolling restart: ${replicaCount} planned stops, each exit 0, in ${seconds(rollingMs)}`,
        `  SIGKILLs: ${kills.length} over ${seconds(killPhaseMs)} (${kills.map((k) => `+${seconds(k.at)} r${k.replica}`).join(", ")})`,
        `  lives that ended by themselves: ${unexpectedExits.length}${unexpectedExits.map((line) => `\n    ${line}`).join("")}`,
        `  HTTP: ${chats.ledger.length} sent, ${httpAcks.length} acknowledged (200), ${httpLost.length} lost; outcomes ${JSON.stringify(chats.tally())}`,
        telegram !== undefined && tgVerdict !== undefined
          ? `  Telegram: ${telegram.pushed.length} pushed, ${telegram.confirmed().length} acknowledged, ` +
            `${tgVerdict.unanswered.length} lost (not answered), ${tgVerdict.unstored.length} lost (not stored), ` +
            `${tgVerdict.duplicated.length} answered twice, ${strayPlaceholders} stray placeholders, ${tg!.conflicts} 409 conflicts` +
            `${settled ? "" : " (not settled after 30 s)"}`
          : "  Telegram: not run (REPLICAS_PROOF_TELEGRAM=0)",
        `  acknowledged in all: ${httpAcks.length + (telegram?.confirmed().length ?? 0)}, lost: ${httpLost.length + (tgVerdict?.unanswered.length ?? 0) + (tgVerdict?.unstored.length ?? 0)}`,
        `  sessions: ${sessions.size} in the database, ${disordered.length} out of order, ` +
          `${(await sessionsOnSeveralReplicas(database)) ?? "(no turn owners in this schema)"} continued on more than one replica; ` +
          `turns ${await turnStatuses(database)}${disordered.slice(0, 3).map((line) => `\n    ${line}`).join("")}`,
        gap !== undefined
          ? `  longest time without a Telegram poller: ${seconds(gap.ms)} (from +${seconds(gap.from - loadStart)}; bound ${pollTimeoutSeconds + 10} s)`
          : "  longest time without a Telegram poller: not measured",
        `  balancer: ${[...balancer.stats].map(([port, s]) => `:${port} accepted ${s.accepted} refused ${s.refused}`).join(", ")}, unrouted ${balancer.unrouted}`
      ].join("\n")
      console.log(report)

      expect(unexpectedExits, unexpectedExits.join("\n")).toEqual([])
      expect(httpAcks.length).toBeGreaterThan(0)
      // The balancer spread the load: every replica took requests.
      for (const port of set.ports) expect(balancer.stats.get(port)?.accepted ?? 0).toBeGreaterThan(0)
      expect(httpLost, JSON.stringify(httpLost.slice(0, 5))).toEqual([])
      expect(disordered, disordered.slice(0, 5).join("\n")).toEqual([])
      if (telegram !== undefined && tgVerdict !== undefined && gap !== undefined) {
        expect(telegram.confirmed().length).toBeGreaterThan(0)
        expect(tgVerdict.unanswered, JSON.stringify(tgVerdict.unanswered.slice(0, 5))).toEqual([])
        expect(tgVerdict.unstored, JSON.stringify(tgVerdict.unstored.slice(0, 5))).toEqual([])
        expect(tgVerdict.duplicated, JSON.stringify(tgVerdict.duplicated.slice(0, 5))).toEqual([])
        expect(gap.ms).toBeLessThanOrEqual((pollTimeoutSeconds + 10) * 1000)
      }
    }, 10 * 60_000)
  }
)
