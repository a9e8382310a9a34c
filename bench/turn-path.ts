// CPU per turn of the kernel's turn path alone, in this process: the turn supervisor with the
// metered intake, the echo agent without delay and a journal that answers at once from a counter
// (no SQLite, no worker, no HTTP; the in-memory test journal scans every session per turn), C turns at a time through `answer` (the plain HTTP path), `follow` (the streamed HTTP path) or `submit` (events as a Stream). A quiet
// figure for comparing changes to the turn path on a loaded machine, where the gateway's own CPU
// per turn moves with the load. Not part of `npm test`.
//
//   node --import tsx bench/turn-path.ts [--turns 20000] [--concurrency 10] [--rounds 5] [--mode answer|submit|follow]
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { outcomeOf } from "../src/adapters/TurnIntake.js"
import { echoAgent } from "../src/agents/EchoAgent.js"
import { makeTurnSupervisor } from "../src/lifecycle/TurnSupervisor.js"
import { meteredIntake } from "../src/metrics/MeteredIntake.js"
import type { SessionDbService } from "../src/sessions/SessionDb.js"
import { median } from "./lib/Stats.js"

const args = process.argv.slice(2)
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`)
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback
}
const turns = Number(option("turns", "20000"))
const concurrency = Number(option("concurrency", "10"))
const rounds = Number(option("rounds", "5"))
const mode = option("mode", "answer")

/** Every turn a new session; only what a turn calls answers, anything else is a bug here. */
const instantJournal = (): SessionDbService => {
  let next = 0
  const unused = Effect.dieMessage("not used by the turn path benchmark")
  return {
    beginTurn: (inbound) =>
      Effect.sync(() => {
        next++
        return { ids: { turnId: `turn-${next}`, sessionId: `session-${next}` }, context: [...inbound.history, { role: "user" as const, content: inbound.text }], duplicate: false, platform: inbound.platform }
      }),
    completeTurn: () => Effect.void,
    failTurn: () => Effect.void,
    interruptTurn: () => Effect.void,
    resumeTurn: () => unused,
    expireTurn: () => unused,
    markDelivered: () => unused,
    setReplyRef: () => unused,
    backlog: unused,
    listSessions: unused,
    transcript: () => unused,
    turns: () => unused,
    prune: () => unused,
    sessionsByKey: () => unused,
    reactivateSession: () => unused,
    close: Effect.void
  } as SessionDbService
}

const round = Effect.scoped(Effect.gen(function*() {
  const supervisor = yield* makeTurnSupervisor(instantJournal())
  const intake = meteredIntake(supervisor.intake, "http")
  // What a follower does with each event at least: looks at it (and lets it go).
  const seen: Array<string> = []
  const one = (i: number) => {
    if (seen.length > 1000) seen.length = 0
    const inbound = { platform: "http", sessionKey: `bench-user-${i}`, text: `bench message ${i}`, history: [] }
    return mode === "submit"
      ? outcomeOf(intake.submit(inbound))
      : mode === "follow"
      ? intake.follow(inbound, (event) => void seen.push(event._tag))
      : intake.answer(inbound)
  }
  const run = (n: number) => Effect.forEach(Array.from({ length: n }, (_, i) => i), one, { concurrency, discard: true })
  yield* run(Math.min(2000, turns)) // warm-up: JIT and caches
  const before = process.cpuUsage()
  yield* run(turns)
  const used = process.cpuUsage(before)
  return (used.user + used.system) / turns
})).pipe(Effect.provide(echoAgent(Duration.zero)))

const main = Effect.gen(function*() {
  const figures: Array<number> = []
  for (let r = 1; r <= rounds; r++) {
    const us = yield* round
    figures.push(us)
    console.error(`round ${r}/${rounds}: ${us.toFixed(1)} µs/turn`)
  }
  console.log(`turn path (${mode}, ${concurrency} at a time, ${turns} turns): median ${median(figures).toFixed(1)} µs/turn of CPU`)
}).pipe(
  // The gateway logs at info: the per-turn line is part of the path, written here to nowhere.
  Effect.provide(Logger.replace(Logger.defaultLogger, Logger.map(Logger.logfmtLogger, () => undefined))),
  Logger.withMinimumLogLevel(LogLevel.Info)
)

Effect.runPromise(main).then(() => process.exit(0), (error: unknown) => {
  console.error(error)
  process.exit(1)
})
