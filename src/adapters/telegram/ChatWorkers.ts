// One worker per chat, kept in a FiberMap keyed by chat id inside the adapter's scope: a chat's jobs
// run one at a time in the order they were offered, different chats run in parallel, and closing
// the scope interrupts every worker.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FiberMap from "effect/FiberMap"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"

export interface ChatWorkers<Job> {
  /** Queues `job` behind the chat's earlier jobs, starting the chat's worker if it has none. */
  readonly offer: (chatId: number, job: Job) => Effect.Effect<void>
  /** Chats with a worker (idle or busy). */
  readonly size: Effect.Effect<number>
}

/**
 * `handle` should deal with its own failures; one that escapes is logged and the worker goes on
 * with the chat's next job (a dead worker would leave the chat unanswered for good).
 */
export const makeChatWorkers = <Job>(
  handle: (job: Job) => Effect.Effect<void>
): Effect.Effect<ChatWorkers<Job>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const workers = yield* FiberMap.make<number>()
    const queues = new Map<number, Queue.Queue<Job>>()
    // Offers come from the poller and from start-up; one at a time keeps "one queue per chat" true.
    const lock = yield* Effect.makeSemaphore(1)

    const work = (queue: Queue.Queue<Job>): Effect.Effect<never> =>
      Effect.forever(Effect.flatMap(Queue.take(queue), (job) =>
        handle(job).pipe(
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError("telegram: a chat job failed", cause)
          )
        )))

    const offer = (chatId: number, job: Job): Effect.Effect<void> =>
      lock.withPermits(1)(Effect.gen(function*() {
        let queue = queues.get(chatId)
        if (queue === undefined) {
          const created = yield* Queue.unbounded<Job>()
          queue = created
          queues.set(chatId, created)
          yield* FiberMap.run(workers, chatId, work(created))
        }
        yield* Queue.offer(queue, job)
      }))

    return { offer, size: FiberMap.size(workers) }
  })
