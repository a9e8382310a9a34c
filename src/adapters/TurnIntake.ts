// What a platform needs from the kernel to run turns: it hands over an inbound message and reads
// the turn's events as a Stream. The turn supervisor owns the turn; the stream is only a view of it.
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { AgentUsage, ChatMessage, FinishReason, GenerationOptions } from "../agents/Agent.js"

export interface InboundMessage {
  /** Platform name, e.g. "http". */
  readonly platform: string
  /** Stable conversation key chosen by the platform; undefined starts a new session. */
  readonly sessionKey: string | undefined
  /** The inbound user message of this turn. */
  readonly text: string
  /** Earlier messages the client sent along (request/response platforms); [] for push platforms. */
  readonly history: ReadonlyArray<ChatMessage>
  /** Who sent it, as the platform names them (HTTP: the request's `user`), for the session record. */
  readonly user?: string | undefined
  /**
   * The platform's id for this message (Telegram: the update_id). A message whose externalId is
   * already recorded in its session is not recorded or answered again (outcome Duplicate), which
   * closes the window between recording a message and acknowledging it to the platform.
   */
  readonly externalId?: string | undefined
  /**
   * The client's generation parameters (HTTP: temperature, max_tokens, ...), handed to the agent.
   * Not recorded: a resumed turn (push platforms only) runs with the agent's defaults.
   */
  readonly generation?: GenerationOptions | undefined
}

export interface TurnIds {
  readonly turnId: string
  readonly sessionId: string
}

export type TurnOutcome =
  | {
    readonly _tag: "Completed"
    readonly ids: TurnIds
    readonly reply: string
    /** The model that answered, when the agent reported one. */
    readonly model?: string | undefined
    /** The model server's token counts, when the agent reported them. */
    readonly usage?: AgentUsage | undefined
    /** Why the model stopped, when the agent reported it ("stop" otherwise). */
    readonly finishReason?: FinishReason | undefined
  }
  | { readonly _tag: "Interrupted"; readonly ids: TurnIds; readonly reason: string }
  | { readonly _tag: "Failed"; readonly ids: TurnIds; readonly message: string }
  /** The message was recorded by an earlier turn (same externalId); that turn owns the answer. */
  | { readonly _tag: "Duplicate"; readonly ids: TurnIds }
  /** The message was never recorded, so there is no turn: the session is suspended, or storage failed. */
  | { readonly _tag: "Refused"; readonly reason: RefusedReason; readonly message: string }

/**
 * Why a message was not recorded. busy: gateway.max_inflight_turns turns are running; refused at
 * once, before anything is written, so sending it again later is always safe.
 */
export type RefusedReason = "session_suspended" | "storage" | "busy"

/** The gateway is not taking new turns (starting up, draining or stopped). */
export class IntakeClosed extends Data.TaggedError("IntakeClosed")<{
  readonly message: string
}> {}

/**
 * What a turn tells the platform, in this order: Accepted once the inbound message is durable (the
 * point of acknowledgement, CONTRACT 9), then the agent's Chunks and Reports as they come, then one
 * Outcome once the end is recorded. A message that never became a turn of its own (Refused,
 * Duplicate) has no Accepted: its stream is the Outcome alone.
 */
export type TurnEvent = Data.TaggedEnum<{
  Accepted: { readonly ids: TurnIds }
  /** Reply text as the agent produces it; the Chunks concatenated are the reply. */
  Chunk: { readonly text: string }
  /** What the agent learned about its answer besides the text, as it learns it. */
  Report: {
    readonly model?: string | undefined
    readonly usage?: AgentUsage | undefined
    readonly finishReason?: FinishReason | undefined
  }
  Outcome: { readonly outcome: TurnOutcome }
}>

export const TurnEvent = Data.taggedEnum<TurnEvent>()

/** A turn's events before its end: what a follower is told as it happens. */
export type TurnProgress = Exclude<TurnEvent, { readonly _tag: "Outcome" }>

export interface TurnIntake {
  /**
   * Running the stream hands the message to the turn supervisor. The turn belongs to the gateway,
   * not to the reader: a reader that stops early (a client that hung up) stops only its view, and
   * the turn still runs to its end or is interrupted at the drain deadline, and is recorded either
   * way. Fails with IntakeClosed, before any event, when the gateway is not taking turns.
   */
  readonly submit: (inbound: InboundMessage) => Stream.Stream<TurnEvent, IntakeClosed>
  /**
   * Like submit, for a platform that answers only once the turn has ended (a non-streaming HTTP
   * request): the outcome, without the events and what carrying them costs. Interrupting the wait
   * (a client that hung up) leaves the turn running under the gateway, as with submit.
   */
  readonly answer: (inbound: InboundMessage) => Effect.Effect<TurnOutcome, IntakeClosed>
  /**
   * Like submit, for a platform that writes each event out as it comes without waiting (a streamed
   * HTTP answer): `onEvent` is called with Accepted, then the Chunks and Reports, from the turn
   * itself, and must not block or throw; the outcome is returned once the end is recorded, after
   * every call. No mailbox and no stream between the turn and the platform. Interrupting the wait (a
   * client that hung up) stops the calls and leaves the turn running under the gateway.
   */
  readonly follow: (inbound: InboundMessage, onEvent: (event: TurnProgress) => void) => Effect.Effect<TurnOutcome, IntakeClosed>
  /**
   * Runs a turn an earlier life left resume_pending again (same turn id, context up to its inbound
   * message), like submit. Accepted comes once the turn is running again.
   */
  readonly resume: (turnId: string) => Stream.Stream<TurnEvent, IntakeClosed>
  /** Turns currently running. */
  readonly active: Effect.Effect<number>
  /**
   * Completes once a new message would not be refused as busy (at once when there is no limit).
   * A push platform waits on it before taking more messages; absent means there is no limit.
   */
  readonly awaitRoom?: Effect.Effect<void>
}

/** Reads a turn's events to the end and returns its outcome (the last event). */
export const outcomeOf = <E, R>(events: Stream.Stream<TurnEvent, E, R>): Effect.Effect<TurnOutcome, E, R> =>
  events.pipe(
    Stream.filterMap((event) => event._tag === "Outcome" ? Option.some(event.outcome) : Option.none()),
    Stream.runLast,
    Effect.flatMap(Option.match({
      onNone: () => Effect.dieMessage("a turn's events ended without an outcome"),
      onSome: Effect.succeed
    }))
  )

/**
 * `follow` made of `submit`, for an intake whose turns are streams anyway (a test's fake): the same
 * calls in the same order, through the stream.
 */
export const followBySubmit = (submit: TurnIntake["submit"]): TurnIntake["follow"] => (inbound, onEvent) =>
  outcomeOf(Stream.tap(submit(inbound), (event) => event._tag === "Outcome" ? Effect.void : Effect.sync(() => onEvent(event))))
