// Which replica a gateway is, among the gateways sharing one PostgreSQL database. The id names the
// owner of every turn it runs and its lease row, so it must stay the same across the restarts of
// one replica (its running turns are then recovered by the replica itself) and differ between
// replicas. Default: the host name plus a short hash of the resolved home, since a home is held by
// one live gateway at a time (the home lock); in Kubernetes the host name is the pod's name.
import { createHash } from "node:crypto"
import * as Either from "effect/Either"

/** Letters, digits and `.`, `_`, `:`, `@`, `-`; a letter or digit first; 1 to 128 characters. */
const replicaIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/

/** Pure: why `id` cannot be a replica id, or undefined when it can. */
export const replicaIdProblem = (id: string): string | undefined =>
  replicaIdPattern.test(id)
    ? undefined
    : `must be 1 to 128 letters, digits or . _ : @ - beginning with a letter or digit, got ${JSON.stringify(id.slice(0, 140))}`

/** Pure: the host name as it may appear in an id (other characters become `-`, at most 63). */
const hostPart = (hostname: string): string => {
  const cleaned = hostname.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 63)
  return cleaned === "" ? "host" : cleaned
}

/** Pure: `host:1a2b3c4d`, the same for the same host and resolved home every time. */
export const defaultReplicaId = (hostname: string, resolvedHome: string): string =>
  `${hostPart(hostname)}:${createHash("sha256").update(resolvedHome).digest("hex").slice(0, 8)}`

/** Pure: the configured id (checked) or the default one; the Left is the problem to report. */
export const replicaIdOf = (
  configured: string | null,
  hostname: string,
  resolvedHome: string
): Either.Either<string, string> => {
  if (configured === null) return Either.right(defaultReplicaId(hostname, resolvedHome))
  const problem = replicaIdProblem(configured)
  return problem === undefined ? Either.right(configured) : Either.left(problem)
}
