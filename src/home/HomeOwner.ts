// Files another user writes into a home must stay readable by the gateway. The gateway runs as the
// home's owner (it refuses any other home), and every home file is 0600, so a file root writes
// (`sudo hermes gateway stop`) is handed to the home's owner before it is renamed into place.
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import type { FileOwner } from "./AtomicFile.js"

/** Who writes, and who owns the home; undefined uid: a platform without uids (Windows). */
export interface Ownership {
  readonly writerUid: number | undefined
  readonly home: FileOwner
}

/** How a file written into the home gets the owner the gateway can read it as. */
export type OwnershipPlan =
  /** The writer is the home's owner (or the platform has no uids): the file is born right. */
  | { readonly _tag: "AsCreated" }
  /** The writer is root: the temp file is chowned to the home's owner before the rename. */
  | { readonly _tag: "GiveTo"; readonly owner: FileOwner }
  /** Anyone else cannot give a file away: the gateway could not read what it wrote. */
  | { readonly _tag: "Impossible" }

export const ownershipPlan = ({ home, writerUid }: Ownership): OwnershipPlan =>
  writerUid === undefined || writerUid === home.uid
    ? { _tag: "AsCreated" }
    : writerUid === 0
    ? { _tag: "GiveTo", owner: home }
    : { _tag: "Impossible" }

/** The one line for a writer that cannot give its file to the home's owner. */
export const cannotGiveOwnership = (what: string, dir: string, { home, writerUid }: Ownership): string =>
  `cannot write ${what} so that the gateway can read it: ${dir} belongs to uid ${home.uid}, and this command ` +
  `runs as uid ${writerUid}, which can neither write as that user nor give the file away; ` +
  `run it as uid ${home.uid} or as root`

/** The ownership of writes into `dir` by this process; undefined when the home cannot be inspected. */
export const ownershipOf = (dir: string): Ownership | undefined => {
  try {
    const stat = fs.statSync(dir)
    const writerUid = typeof process.geteuid === "function" ? process.geteuid() : undefined
    return { writerUid, home: { uid: stat.uid, gid: stat.gid } }
  } catch {
    // A home that cannot be inspected cannot be written either: the write itself reports the cause.
    return undefined
  }
}

export class HomeOwnershipError extends Data.TaggedError("HomeOwnershipError")<{
  readonly message: string
}> {}

/**
 * The owner to give `what` written into `dir` (undefined: as created), or a failure when this
 * process could write it only as a file the gateway cannot read.
 */
export const ownerForWrite = (dir: string, what: string): Effect.Effect<FileOwner | undefined, HomeOwnershipError> =>
  Effect.suspend(() => {
    const ownership = ownershipOf(dir)
    if (ownership === undefined) return Effect.succeed(undefined)
    const plan = ownershipPlan(ownership)
    switch (plan._tag) {
      case "AsCreated":
        return Effect.succeed(undefined)
      case "GiveTo":
        return Effect.succeed(plan.owner)
      case "Impossible":
        return Effect.fail(new HomeOwnershipError({ message: cannotGiveOwnership(what, dir, ownership) }))
    }
  })
