// A stop request that arrives after the first decision: only a restart can still change (the last
// planned stop wins over it, StopClassification.settle); everything else keeps the first decision.
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import {
  type Classification,
  classify,
  describeRequest,
  laterRequestMatters,
  type MarkerVerdict,
  needsMarker,
  settle,
  type StopRequest
} from "./StopClassification.js"

const notRead: MarkerVerdict = { applies: null, file: "none", note: "not read" }

/** The decision that replaces `current`, if the later request changes it; reads the marker only when it can matter. */
export const overridingDecision = <D extends { readonly classification: Classification; readonly marker: string }>(
  current: D,
  request: StopRequest,
  readMarker: Effect.Effect<MarkerVerdict>
): Effect.Effect<Option.Option<D>> =>
  Effect.gen(function*() {
    if (!laterRequestMatters(current.classification)) return Option.none()
    const marker = needsMarker(request) ? yield* readMarker : notRead
    const settled = settle(current.classification, classify(request, marker))
    if (settled === current.classification) return Option.none()
    yield* Effect.log(`${describeRequest(request)} is a planned stop: it overrides the restart in progress`)
    return Option.some({
      ...current,
      classification: settled,
      marker: `${current.marker}; then ${describeRequest(request)} (marker ${marker.note}): a planned stop overrides the restart`
    })
  })
