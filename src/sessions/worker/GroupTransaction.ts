// One durable SQLite transaction around synchronous calls, for the SessionDB worker's group
// commit of the turn writes (TurnWrites.ts): BEGIN IMMEDIATE, each call in its own savepoint so a
// call that throws undoes only its own statements, one COMMIT. A lone call needs no savepoint: it
// throwing rolls the transaction back. The caller answers nothing before this returns, so no
// reply leaves before the COMMIT (and its fsync, synchronous=FULL) that covers it.

export type CallResult<A> =
  | { readonly _tag: "Returned"; readonly value: A }
  | { readonly _tag: "Threw"; readonly error: unknown }

export type TransactionResult<A> =
  /** Ended (committed, or a lone call that threw rolled back); each call's result, in order. A call that threw left nothing behind. */
  | { readonly _tag: "Done"; readonly results: ReadonlyArray<CallResult<A>> }
  /** BEGIN, a savepoint or COMMIT failed: nothing of the transaction is on disk. */
  | { readonly _tag: "Failed"; readonly error: unknown }

const savepoint = "hermes_call"

const attempt = <A>(call: () => A): CallResult<A> => {
  try {
    return { _tag: "Returned", value: call() }
  } catch (error) {
    return { _tag: "Threw", error }
  }
}

export const runTransaction = <A>(
  run: (sql: string) => unknown,
  calls: ReadonlyArray<() => A>
): TransactionResult<A> => {
  try {
    run("BEGIN IMMEDIATE")
  } catch (error) {
    return { _tag: "Failed", error }
  }
  try {
    if (calls.length === 1) {
      const result = attempt(calls[0]!)
      run(result._tag === "Returned" ? "COMMIT" : "ROLLBACK")
      return { _tag: "Done", results: [result] }
    }
    const results = calls.map((call) => {
      run(`SAVEPOINT ${savepoint}`)
      const result = attempt(call)
      if (result._tag === "Threw") run(`ROLLBACK TO ${savepoint}`)
      run(`RELEASE ${savepoint}`)
      return result
    })
    run("COMMIT")
    return { _tag: "Done", results }
  } catch (error) {
    // SQLite may already have rolled back (a full disk, an I/O error): then ROLLBACK has nothing to do.
    try {
      run("ROLLBACK")
    } catch {
      // nothing was left to roll back
    }
    return { _tag: "Failed", error }
  }
}
