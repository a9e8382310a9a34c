// Which calls the SessionDB worker runs as plain synchronous turn writes (TurnWrites.ts), and how
// one step of its group commit (GroupCommit.ts) of only such calls becomes their answers: one
// transaction (GroupTransaction.ts), each call's value encoded for the trip to the gateway, engine
// errors mapped to a SessionDbError exactly as the journal maps them. Steps with any other call go
// through the journal (TurnJournal.ts) as before.
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { SessionDbError } from "../SessionDb.js"
import { toSessionDbError } from "../SessionDbFailure.js"
import { engineError } from "../SqliteClient.js"
import type { SqliteDriver } from "../SqliteDriver.js"
import { type CallResult, runTransaction } from "./GroupTransaction.js"
import type { CallRequest } from "./GroupCommit.js"
import type { TurnWrites } from "./TurnWrites.js"
import { type DbCall, resultSchemas } from "./WorkerProtocol.js"

export type TurnWriteCall = Extract<DbCall, { readonly _tag: "beginTurn" | "completeTurn" | "failTurn" | "interruptTurn" }>

/** What each write is called in an error message (the journal's words for the same operation). */
const operationName: { readonly [K in TurnWriteCall["_tag"]]: string } = {
  beginTurn: "begin a turn",
  completeTurn: "complete a turn",
  failTurn: "record a failed turn",
  interruptTurn: "record an interrupted turn"
}

const isTurnWrite = (call: DbCall): call is TurnWriteCall => call._tag in operationName

/** Whether every call of a step is a turn write, so the step can run as one by runTurnWrites. */
export const onlyTurnWrites = (requests: ReadonlyArray<CallRequest<DbCall>>): requests is ReadonlyArray<CallRequest<TurnWriteCall>> =>
  requests.every((request) => isTurnWrite(request.call))

const write = (writes: TurnWrites, call: TurnWriteCall): unknown => {
  switch (call._tag) {
    case "beginTurn":
      return Schema.encodeSync(resultSchemas.beginTurn)(writes.beginTurn(call.inbound))
    case "completeTurn":
      return writes.completeTurn(call.ids, call.reply)
    case "failTurn":
      return writes.failTurn(call.ids, call.message)
    case "interruptTurn":
      return writes.interruptTurn(call.ids, call.reason)
  }
}

const exitOf = (file: string, what: string, error: unknown): Exit.Exit<never, SessionDbError> => {
  const mapped = toSessionDbError(file, what, Cause.die(error))
  return mapped instanceof SessionDbError ? Exit.fail(mapped) : Exit.failCause(mapped)
}

/** Runs `requests` (every one a turn write) in one durable transaction; each with its exit, in order. */
export const runTurnWrites = (
  driver: SqliteDriver,
  writes: TurnWrites,
  requests: ReadonlyArray<CallRequest<TurnWriteCall>>
): ReadonlyArray<readonly [CallRequest<DbCall>, Exit.Exit<unknown, SessionDbError>]> => {
  const run = (sql: string) => {
    try {
      return driver.query(sql, [])
    } catch (cause) {
      throw engineError(driver, sql, cause)
    }
  }
  const outcome = runTransaction(run, requests.map((request) => () => write(writes, request.call)))
  if (outcome._tag === "Failed") {
    const what = requests.length === 1 ? operationName[requests[0]!.call._tag] : `commit ${requests.length} calls`
    const exit = exitOf(driver.file, what, outcome.error)
    return requests.map((request) => [request, exit] as const)
  }
  return outcome.results.map((result: CallResult<unknown>, i) => {
    const request = requests[i]!
    const exit = result._tag === "Returned"
      ? Exit.succeed(result.value)
      : result.error instanceof SessionDbError
      ? Exit.fail(result.error)
      : exitOf(driver.file, operationName[request.call._tag], result.error)
    return [request, exit] as const
  })
}
