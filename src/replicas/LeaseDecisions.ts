// The pure decisions of replica leases: every time is the DATABASE's clock (epoch ms read with the
// rows), never this machine's, so clock skew between replicas cannot make a live one look dead.

/** A running turn of another replica (or of none), with its owner's lease as the database has it. */
export interface ForeignTurn {
  readonly id: string
  /** null: begun before turns had owners (schema < 4). */
  readonly owner: string | null
  /** The turn's start, epoch ms (written by its replica's clock; used only when its owner has no lease row). */
  readonly startedAtMs: number
  /** The owner's lease end, epoch ms on the database clock; null when the owner has no lease row. */
  readonly leaseExpiresAtMs: number | null
}

/** Pure: the lease ending at `expiresAtMs` is over at `nowMs` (both the database's clock). */
export const leaseExpired = (expiresAtMs: number, nowMs: number): boolean => expiresAtMs < nowMs

/**
 * Pure: may replica `me` recover `turn` at `nowMs`? Never its own (a replica recovers its own only
 * at its start, when the home lock proves its previous life over); another's once that replica's
 * lease has expired; an owner without a lease row (or no owner) once the turn is older than a lease.
 */
export const mayRecover = (turn: ForeignTurn, me: string, nowMs: number, leaseMs: number): boolean => {
  if (turn.owner === me) return false
  if (turn.owner !== null && turn.leaseExpiresAtMs !== null) return leaseExpired(turn.leaseExpiresAtMs, nowMs)
  return nowMs - turn.startedAtMs > leaseMs
}

/** Pure: the turns `me` may recover now, grouped by the owner they are taken from. */
export const recoverableByOwner = (
  turns: ReadonlyArray<ForeignTurn>,
  me: string,
  nowMs: number,
  leaseMs: number
): ReadonlyMap<string | null, ReadonlyArray<string>> => {
  const byOwner = new Map<string | null, Array<string>>()
  for (const turn of turns) {
    if (!mayRecover(turn, me, nowMs, leaseMs)) continue
    const ids = byOwner.get(turn.owner) ?? []
    ids.push(turn.id)
    byOwner.set(turn.owner, ids)
  }
  return byOwner
}

/**
 * Pure: how a lease row written by `holder` (host and home) may be taken by `me` at `nowMs`: it is
 * ours (same host and home: our previous life), free (expired), or held by another live gateway
 * configured with the same replica id.
 */
export const leaseClaim = (
  holder: { readonly host: string; readonly home: string; readonly expiresAtMs: number } | null,
  me: { readonly host: string; readonly home: string },
  nowMs: number
): "ours" | "free" | "held" => {
  if (holder === null) return "free"
  if (holder.host === me.host && holder.home === me.home) return "ours"
  return leaseExpired(holder.expiresAtMs, nowMs) ? "free" : "held"
}
