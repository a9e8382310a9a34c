// The group-commit decision: what the SessionDB worker does with the requests that piled up while
// it was busy (most of that time is the fsync of the previous commit). Calls that arrived together
// share one durable transaction, each inside its own savepoint, so one failing call does not undo
// the others; a lone call keeps its own transaction (no savepoint to pay for). A close runs after
// every call that came before it; calls after it are refused. Pure, so it is tested on its own.

export type Pending<C> =
  | { readonly _tag: "Call"; readonly id: number; readonly call: C }
  | { readonly _tag: "Close" }

export type CallRequest<C> = Extract<Pending<C>, { readonly _tag: "Call" }>

export type Step<C> =
  /** One call in its own transaction. */
  | { readonly _tag: "Alone"; readonly request: CallRequest<C> }
  /** Two or more calls in one transaction, one savepoint each; every reply waits for its COMMIT. */
  | { readonly _tag: "Group"; readonly requests: ReadonlyArray<CallRequest<C>> }
  /** Waits for nothing more: every earlier call is answered; closes the connection. */
  | { readonly _tag: "Close" }
  /** Calls that arrived after the close: answered "closed" without touching the database. */
  | { readonly _tag: "Refuse"; readonly requests: ReadonlyArray<CallRequest<C>> }

/**
 * The steps for `drained` (in arrival order), with at most `maxGroup` calls in one transaction so a
 * burst cannot build a transaction without bound. Every call appears in exactly one step, in order.
 */
export const planSteps = <C>(drained: ReadonlyArray<Pending<C>>, maxGroup: number): ReadonlyArray<Step<C>> => {
  const limit = Math.max(1, Math.floor(maxGroup))
  const closeAt = drained.findIndex((p) => p._tag === "Close")
  const beforeClose = (closeAt === -1 ? drained : drained.slice(0, closeAt)).filter(isCall)
  const steps: Array<Step<C>> = []
  for (let start = 0; start < beforeClose.length; start += limit) {
    const requests = beforeClose.slice(start, start + limit)
    steps.push(requests.length === 1 ? { _tag: "Alone", request: requests[0]! } : { _tag: "Group", requests })
  }
  if (closeAt !== -1) {
    steps.push({ _tag: "Close" })
    const after = drained.slice(closeAt + 1).filter(isCall)
    if (after.length > 0) steps.push({ _tag: "Refuse", requests: after })
  }
  return steps
}

const isCall = <C>(p: Pending<C>): p is CallRequest<C> => p._tag === "Call"

/** Default bound on the calls one group commit covers. */
export const defaultMaxGroup = 128
