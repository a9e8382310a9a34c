// Property tests of the shutdown order (CONTRACT 5) on TestClock: random adapters (latency,
// failures, hangs), random in-flight turns, drain deadlines, first and second signals and marker
// states (KernelScenario.ts). The kernel writes its turns to the real SQL journal: what a cut turn
// becomes (interrupted over HTTP, resume_pending on a push platform), what is left for the next life,
// and that life resuming and delivering it are all inside the property.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { exitCodeOf } from "../../../src/lifecycle/ExitCode.js"
import { shutdownPhases } from "../../../src/lifecycle/Phase.js"
import { hardDeadline } from "../../../src/lifecycle/ShutdownBudget.js"
import { budget, isPush, runScenario, type Scenario, scenario } from "./KernelScenario.js"

const canonicalPhases: ReadonlyArray<string> = shutdownPhases

/** An oracle written from CONTRACT 3.1/3.2 tables, independent of the code under test. */
const expectedExitCode = (s: Scenario, startupFailsAt: number | null): number => {
  if (startupFailsAt !== null && startupFailsAt < s.firstSignal.atMs) return 69
  switch (s.firstSignal.signal) {
    case "SIGINT":
      return 0
    case "SIGUSR1":
      return 75
    default:
      return s.marker === "self-stop" ? 0 : s.marker === "self-restart" ? 75 : 1
  }
}

/** When start-up fails on its own (every adapter fails to connect), in virtual ms. */
const startupFailureTime = (s: Scenario): number | null => {
  if (!s.adapters.every((a) => a.connect !== "ok")) return null
  return Math.max(...s.adapters.map((a) => (a.connect === "fail" ? a.connectMs : Duration.toMillis(budget.adapterConnect))))
}

const indexOf = (events: ReadonlyArray<string>, predicate: (e: string) => boolean) => events.findIndex(predicate)

/** How often the runs took each path, summed over the property's runs (checked after them). */
const coverage = { resumed: 0, httpInterrupted: 0, delivered: 0, deliveredByLife2: 0 }

describe("shutdown ordering (property)", () => {
  it.effect.prop(
    "keeps CONTRACT 5 order and the exit-code table under random adapters, turns and signals",
    [scenario],
    ([s]) =>
      Effect.gen(function*() {
        const t0 = Date.now()
        if (process.env.DEBUG_TIMING) console.log("start", JSON.stringify(s))
        const r = yield* Effect.scoped(runScenario(s))
        if (process.env.DEBUG_TIMING) console.log(Date.now() - t0, Option.isSome(r.exit), JSON.stringify(s))
        if (process.env.DEBUG_SCENARIO) console.log(JSON.stringify({ events: r.events, exit: r.exit, home: r.home }, null, 1))
        expect(Option.isSome(r.exit), "the gateway finished within 5 virtual minutes").toBe(true)
        const exit = Option.getOrThrow(r.exit)
        const events = r.events
        const startupFailsAt = startupFailureTime(s)

        // the exit code equals the table's verdict; the last planned stop wins over a restart while
        // the decision is open (a SIGTERM with a stop marker naming self after SIGUSR1). The model
        // only logs when it sends the second signal, not when the gateway reads it, so a signal sent
        // before the final state was written may land on either side of the freeze; after it, 75.
        const code = exitCodeOf(exit)
        const expected = expectedExitCode(s, startupFailsAt)
        const second = events.indexOf("signal:second")
        const finalState = events.indexOf("state:stopped")
        const stopMayWin = expected === 75 && s.firstSignal.signal === "SIGUSR1" && s.marker === "self-stop" &&
          second >= 0 && (finalState === -1 || second < finalState)
        if (stopMayWin) expect([0, 75]).toContain(code)
        else expect(code).toBe(expected)

        // the clean-shutdown marker is written before any other shutdown step (there always is one:
        // every adapter's connect starts at once, so every life disconnects and writes a final state)
        const marker = events.indexOf("clean_shutdown")
        expect(marker).toBeGreaterThanOrEqual(0)
        const firstTeardown = indexOf(events, (e) =>
          e.endsWith(":stop_intake") || e.endsWith(":notify") || e.includes(":disconnect:") || e.startsWith("db:close") ||
          e === "lock:release" || e === "state:stopped" || e === "state:startup_failed")
        expect(firstTeardown).toBeGreaterThan(marker)
        expect(events[marker + 1]).toBe("state:draining")
        // systemd hears STOPPING=1 with the first step, and READY=1 exactly when start-up completed
        expect(r.notified.some((m) => m.startsWith("STOPPING=1"))).toBe(true)
        const ready = r.notified.findIndex((m) => m.startsWith("READY=1"))
        expect(ready < r.notified.findIndex((m) => m.startsWith("STOPPING=1"))).toBe(true)
        // (an unplanned stop also leaves "running" as the final state: only one written before the
        // shutdown began says that start-up completed)
        const runningBeforeStop = events.indexOf("state:running") >= 0 && events.indexOf("state:running") < marker
        expect(ready >= 0, "READY=1 exactly when start-up completed").toBe(runningBeforeStop)

        // phases ran in the contract's order (a start-up abandoned early skips some)
        const report = r.home.lifecycle.find((l) => l.event === "shutdown") as { phases: Array<{ name: string }> } | undefined
        expect(report).toBeDefined()
        const names = report!.phases.map((p) => p.name)
        const positions = names.map((n) => canonicalPhases.indexOf(n))
        expect(positions.every((p) => p >= 0)).toBe(true)
        expect([...positions].sort((a, b) => a - b)).toEqual(positions)
        expect(names[0]).toBe("clean_shutdown_marker")
        // the marker verdict is its own field of the record (and still part of exit_reason)
        const record = report as unknown as { classification: string; marker: string | null; exit_reason: string }
        if (record.classification === "startup_failed") expect(record.marker).toBeNull()
        else expect(record.exit_reason).toContain(`; marker ${record.marker})`)

        // every adapter's connect was attempted, and each gets a disconnect attempt, even if others fail or hang
        for (let i = 0; i < s.adapters.length; i++) {
          expect(events).toContain(`a${i}:connect`)
          expect(events).toContain(`a${i}:disconnect:start`)
        }
        // intake stops (for every adapter whose intake started) before the drain, and no adapter
        // disconnects before the drain ends: every turn reached its end before the first disconnect began
        const firstDisconnect = indexOf(events, (e) => e.includes(":disconnect:start"))
        for (let i = 0; i < s.adapters.length; i++) {
          if (!events.includes(`a${i}:start_intake`)) continue
          const stopped = events.indexOf(`a${i}:stop_intake`)
          expect(stopped, `a${i} started its intake, so it stops it`).toBeGreaterThanOrEqual(0)
          expect(stopped).toBeLessThan(firstDisconnect)
        }
        const turnEnds = events
          .map((e, i) => ({ e, i }))
          .filter(({ e }) => /^turn:.*:(Completed|Interrupted|Failed)$/.test(e))
        for (const end of turnEnds) expect(end.i).toBeLessThan(firstDisconnect)

        // the SessionDB step runs after all adapters
        const dbClose = events.indexOf("db:close:start")
        expect(dbClose).toBeGreaterThanOrEqual(0)
        events.forEach((e, i) => {
          if (e.includes(":disconnect:")) expect(i).toBeLessThan(dbClose)
        })

        // teardown stays within the hard deadline
        expect(Option.getOrNull(r.fired)).toBeNull()
        const took = (report as unknown as { took_ms: number }).took_ms
        expect(took).toBeLessThanOrEqual(Duration.toMillis(hardDeadline(r.scenarioBudget)))

        // every accepted turn is in the SQL journal and ended: completed, failed, or cut by the
        // shutdown (interrupted on the HTTP platform, resume_pending on a push platform); none vanishes,
        // none is left running
        const recorded = new Map(r.left.turns.map((t) => [t.id, t]))
        for (const turn of r.left.turns) {
          const cut = isPush(turn.platform) ? "resume_pending" : "interrupted"
          expect(["completed", "failed", cut], `turn ${turn.id} on ${turn.platform}`).toContain(turn.status)
          expect(turn.delivery).toBe(isPush(turn.platform) ? "push" : "request_response")
        }
        for (const { outcome } of r.outcomes) {
          // the journal never refuses here; a refusal would be a turn that vanished
          if (outcome === "closed") continue
          expect(outcome._tag).not.toBe("Refused")
          if (outcome._tag === "Refused") continue
          const turn = recorded.get(outcome.ids.turnId)
          expect(turn, `turn ${outcome.ids.turnId} is in the journal`).toBeDefined()
          const cut = isPush(turn!.platform) ? "resume_pending" : "interrupted"
          expect(turn!.status).toBe(outcome._tag === "Completed" ? "completed" : outcome._tag === "Interrupted" ? cut : "failed")
        }
        const accepted = events.filter((e) => e.endsWith(":accepted")).length
        expect(r.left.turns.length).toBe(accepted)

        // what life 1 left for the next: every push turn cut short, and push answers not recorded as
        // delivered; an answer whose delivery was recorded before the database closed is not among them
        const backlog = new Set(r.left.backlog.map((t) => t.ids.turnId))
        for (const turn of r.left.turns) {
          if (turn.status === "resume_pending") expect(backlog.has(turn.id), `cut push turn ${turn.id} carried over`).toBe(true)
          if (!isPush(turn.platform)) expect(backlog.has(turn.id), `HTTP turn ${turn.id} never carried over`).toBe(false)
          const delivered = events.indexOf(`turn:${turn.id}:delivered`)
          if (delivered >= 0 && delivered < dbClose) expect(backlog.has(turn.id), `delivered turn ${turn.id}`).toBe(false)
          if (events.includes(`turn:${turn.id}:undelivered`)) expect(backlog.has(turn.id), `undelivered turn ${turn.id}`).toBe(true)
        }

        // life 2 gets exactly that backlog as its carryover, resumes every cut turn to completion,
        // delivers the rest, stops as planned (0) and leaves nothing behind
        const life2 = r.second
        expect(Option.isSome(life2.exit), "life 2 finished within 5 virtual minutes").toBe(true)
        expect(exitCodeOf(Option.getOrThrow(life2.exit))).toBe(0)
        expect(life2.carried.map((c) => c.ids.turnId).sort()).toEqual([...backlog].sort())
        for (const item of life2.carried) {
          const turn = recorded.get(item.ids.turnId)!
          expect(item._tag).toBe(turn.status === "resume_pending" ? "Resume" : "Deliver")
        }
        const resumable = r.left.turns.filter((t) => t.status === "resume_pending").map((t) => t.id).sort()
        expect(life2.resumed.map((x) => x.turnId).sort()).toEqual(resumable)
        for (const { outcome } of life2.resumed) expect(outcome === "closed" ? outcome : outcome._tag).toBe("Completed")
        expect(life2.after.backlog).toEqual([])
        coverage.resumed += resumable.length
        coverage.httpInterrupted += r.left.turns.filter((t) => t.status === "interrupted").length
        coverage.delivered += events.filter((e) => e.endsWith(":delivered")).length
        coverage.deliveredByLife2 += life2.carried.filter((c) => c._tag === "Deliver").length
        const finalStatus = new Map(life2.after.turns.map((t) => [t.id, t.status]))
        expect(life2.after.turns.length).toBe(r.left.turns.length)
        for (const turn of r.left.turns) {
          expect(finalStatus.get(turn.id), `turn ${turn.id} after life 2`).toBe(turn.status === "resume_pending" ? "completed" : turn.status)
        }

        // the lock is released last, after the final state
        const gatewayEvents = events.filter((e) => !e.startsWith("signal:"))
        expect(gatewayEvents.indexOf("lock:release")).toBe(gatewayEvents.length - 1)
      }),
    {
      // Two lives and three opens of a real database per run: generous, for a loaded machine.
      timeout: 300_000,
      fastCheck: {
        numRuns: 60,
        // Report the first failing scenario as it is: shrinking replays scenarios after a failure,
        // and a replay stuck on what the failure left behind turned a clear failure into a timeout.
        endOnFailure: true,
        ...(process.env.SCENARIO ? { examples: [[JSON.parse(process.env.SCENARIO)]], numRuns: 1 } : {})
      }
    }
  )

  // Each path has a chance of about one in five per run: sixty runs that never take one would mean
  // the generator (or the kernel) stopped producing it, and the checks above passed vacuously.
  it.runIf(process.env.SCENARIO === undefined)("the runs took every path: resumed, HTTP interrupted, delivered by each life", () => {
    expect(coverage.resumed).toBeGreaterThan(0)
    expect(coverage.httpInterrupted).toBeGreaterThan(0)
    expect(coverage.delivered).toBeGreaterThan(0)
    expect(coverage.deliveredByLife2).toBeGreaterThan(0)
  })
})
