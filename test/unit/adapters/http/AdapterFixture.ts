// A scripted TurnIntake and a started HTTP adapter for the adapter tests. The fake intake behaves
// like the kernel's from the adapter's side: accept, stream chunks, end with a chosen outcome.
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  type Adapter,
  type InboundMessage,
  IntakeClosed,
  TurnEvent,
  type TurnIds,
  type TurnIntake,
  type TurnOutcome
} from "../../../../src/adapters/Adapter.js"
import { type HttpAdapterOptions, makeHttpAdapter } from "../../../../src/adapters/http/HttpAdapter.js"
import type { AgentReport } from "../../../../src/agents/Agent.js"
import { quietContext, quietDelivery } from "../IntakeContextFixture.js"
import { fromSubmit } from "../IntakeFakes.js"

export interface Script {
  /** How the turn ends; "IntakeClosed" refuses it up front, "Defect" dies after acceptance. */
  readonly outcome?: TurnOutcome["_tag"] | "IntakeClosed" | "Defect"
  /** Send Accepted (default true); false models a turn refused or interrupted before it was recorded. */
  readonly accept?: boolean
  /** After acceptance and the first chunk, wait for this before streaming the rest. */
  readonly hold?: Deferred.Deferred<void>
  /** Pause between chunks. */
  readonly chunkDelay?: Duration.DurationInput
  /** What the agent reports (model, usage): a Report event before the first chunk, and in the outcome. */
  readonly report?: AgentReport
}

export interface FakeIntake {
  readonly intake: TurnIntake
  /** Every inbound message submitted, in order; take() waits for the next one. */
  readonly submitted: Queue.Queue<InboundMessage>
  /** Turns that ran to their end (whatever the HTTP client did meanwhile). */
  readonly finished: Ref.Ref<number>
}

export const replyTo = (text: string): string => `echo: ${text}`

export const makeFakeIntake = (script: Script = {}): Effect.Effect<FakeIntake> =>
  Effect.gen(function*() {
    const submitted = yield* Queue.unbounded<InboundMessage>()
    const finished = yield* Ref.make(0)
    let turns = 0
    const intake: TurnIntake = fromSubmit({
      active: Effect.succeed(0),
      resume: (turnId) => Stream.dieMessage(`the HTTP adapter never resumes turns (asked for ${turnId})`),
      submit: (inbound) =>
        Stream.unwrap(Effect.gen(function*() {
          turns += 1
          const ids: TurnIds = { turnId: `turn-${turns}`, sessionId: inbound.sessionKey ?? `session-${turns}` }
          yield* Queue.offer(submitted, inbound)
          if (script.outcome === "IntakeClosed") return Stream.fail(new IntakeClosed({ message: "gateway is draining" }))
          const reply = replyTo(inbound.text)
          // Words with their trailing space, so the chunks concatenate to the reply.
          const chunks = reply.split(/(?<= )/)
          const chunkEvents = Stream.fromIterable(chunks.entries()).pipe(
            Stream.mapEffect(([index, text]) =>
              Effect.gen(function*() {
                if (index === 1 && script.hold) yield* Deferred.await(script.hold)
                if (index > 0 && script.chunkDelay) yield* Effect.sleep(script.chunkDelay)
                return TurnEvent.Chunk({ text })
              })
            )
          )
          const end = Effect.gen(function*() {
            if (chunks.length === 1 && script.hold) yield* Deferred.await(script.hold)
            yield* Ref.update(finished, (n) => n + 1)
            switch (script.outcome) {
              case "Interrupted":
                return TurnEvent.Outcome({ outcome: { _tag: "Interrupted", ids, reason: "drain deadline" } })
              case "Failed":
                return TurnEvent.Outcome({ outcome: { _tag: "Failed", ids, message: "model exploded" } })
              case "Defect":
                return yield* Effect.die(new Error("bug in the turn supervisor"))
              default:
                return TurnEvent.Outcome({ outcome: { _tag: "Completed", ids, reply, ...script.report } })
            }
          })
          // A turn refused or interrupted before it was recorded has no Accepted and no Chunks.
          if (script.accept === false) return Stream.fromEffect(end)
          return Stream.make(TurnEvent.Accepted({ ids })).pipe(
            Stream.concat(script.report === undefined ? Stream.empty : Stream.make(TurnEvent.Report(script.report))),
            Stream.concat(chunkEvents),
            Stream.concat(Stream.fromEffect(end))
          )
        }))
    })
    return { intake, submitted, finished }
  })

export const defaultOptions: HttpAdapterOptions = {
  host: "127.0.0.1",
  port: 0,
  apiKey: null,
  maxBodyBytes: 64 * 1024,
  maxConnections: 64,
  requestTimeoutMillis: 30_000,
  maxInflightBodyBytes: 1024 * 1024,
  model: "hermes-echo",
  retryAfterSeconds: 7
}

export interface RunningAdapter {
  readonly adapter: Adapter
  readonly url: string
  readonly port: number
}

/** Connected adapter whose disconnect is the scope's finalizer, so a failing test still closes it. */
export const startAdapter = (
  overrides: Partial<HttpAdapterOptions> = {}
): Effect.Effect<RunningAdapter, never, Scope.Scope> =>
  Effect.gen(function*() {
    const adapter = yield* makeHttpAdapter({ ...defaultOptions, ...overrides })
    const info = yield* Effect.acquireRelease(adapter.connect, () => adapter.disconnect).pipe(Effect.orDie)
    return { adapter, url: String(info.url), port: Number(info.port) }
  })

/** Adapter with intake already open on a fake intake following `script`. */
export const startServing = (
  script: Script = {},
  overrides: Partial<HttpAdapterOptions> = {}
): Effect.Effect<RunningAdapter & FakeIntake, never, Scope.Scope> =>
  Effect.gen(function*() {
    const running = yield* startAdapter(overrides)
    const fake = yield* makeFakeIntake(script)
    yield* running.adapter.startIntake(fake.intake, quietContext()).pipe(Effect.provide(quietDelivery))
    return { ...running, ...fake }
  })
