// `install --replicas N --sessions sqlite|postgres`: which definitions can run several gateways, and
// the one decision that turns the two flags into a single-replica SQLite definition (today's, byte
// for byte) or a replicated PostgreSQL one. Several gateways can only share a PostgreSQL database: a
// SQLite file belongs to the one home whose lock guards it.
import * as Either from "effect/Either"
import * as path from "node:path"
import { formatDuration } from "../config/Duration.js"
import type { ShutdownBudget } from "../lifecycle/ShutdownBudget.js"
import { defaultHttpPort, type Manager } from "./Definition.js"
import { shellWord } from "./Quoting.js"

export const sessionEngines = ["sqlite", "postgres"] as const
export type SessionEngine = (typeof sessionEngines)[number]

/** Container definitions start gateways as copies of one template; the others supervise one process in one home. */
export const replicatingManagers: ReadonlyArray<Manager> = ["kubernetes", "docker"]

/** A compose file with a service per replica, and a port each, stays readable up to here. */
export const maxReplicas = 100

/** What the flags asked for, before the config names the URL's variable. */
export interface ReplicationRequest {
  readonly replicas: number
}

/** A replicated definition: N gateways, each with its own home, sharing one PostgreSQL database. */
export interface Replication extends ReplicationRequest {
  /** sessions.postgres.url_env: the NAME of the variable that carries the connection URL. */
  readonly urlEnv: string
}

export interface ReplicationFlags {
  readonly manager: Manager
  readonly replicas: string | undefined
  readonly sessions: string | undefined
}

const isEngine = (value: string): value is SessionEngine => (sessionEngines as ReadonlyArray<string>).includes(value)

/**
 * The replication the flags ask for: none (today's single-replica SQLite definition), a request, or
 * the one line that says what is wrong (a usage error). `--replicas 1` alone, or `--sessions sqlite`,
 * is today's definition; `--sessions postgres` alone is one replica on PostgreSQL.
 */
export const replicationOf = (flags: ReplicationFlags): Either.Either<ReplicationRequest | undefined, string> => {
  const { manager, replicas, sessions } = flags
  if (sessions !== undefined && !isEngine(sessions)) {
    return Either.left(`--sessions must be sqlite or postgres, got ${JSON.stringify(sessions)}`)
  }
  if (!replicatingManagers.includes(manager) && (replicas !== undefined || sessions !== undefined)) {
    return Either.left(
      `${replicas !== undefined ? "--replicas" : "--sessions"} is for the kubernetes and docker definitions only: ` +
        `a ${manager} definition runs one gateway in one home (choose its session engine with sessions.engine in config.yaml)`
    )
  }
  let count = 1
  if (replicas !== undefined) {
    if (!/^\d+$/.test(replicas)) {
      return Either.left(`--replicas must be a whole number from 1 to ${maxReplicas}, got ${JSON.stringify(replicas)}`)
    }
    count = Number(replicas)
    if (count < 1 || count > maxReplicas) {
      return Either.left(`--replicas must be a whole number from 1 to ${maxReplicas}, got ${replicas}`)
    }
  }
  if (sessions !== "postgres") {
    return count === 1
      ? Either.right(undefined)
      : Either.left(
        `--replicas ${count} needs --sessions postgres: replicas share one database, and a SQLite file belongs to one home`
      )
  }
  return Either.right({ replicas: count })
}

/** The Secret whose key `url` holds the connection URL (Kubernetes). */
export const databaseSecretName = (serviceName: string): string => `${serviceName}-database`

/**
 * The variables a replicated gateway is configured with. Its home starts empty (a pod's emptyDir,
 * a fresh volume), so there is no config.yaml to say `sessions.engine: postgres`, and the shutdown
 * budget the grace period was sized for must reach the gateway too, or a longer default drain could
 * outlast it. Variables win over a config file, so a copied config.yaml cannot undercut them either.
 */
export const replicaConfigVariables = (
  budget: ShutdownBudget,
  replication: Replication
): ReadonlyArray<readonly [string, string]> => [
  ["HERMES_SESSIONS_ENGINE", "postgres"],
  ["HERMES_SESSIONS_POSTGRES_URL_ENV", replication.urlEnv],
  ["HERMES_GATEWAY_DRAIN_TIMEOUT", formatDuration(budget.drain)],
  ["HERMES_GATEWAY_ADAPTER_CONNECT_TIMEOUT", formatDuration(budget.adapterConnect)],
  ["HERMES_GATEWAY_ADAPTER_DISCONNECT_TIMEOUT", formatDuration(budget.adapterDisconnect)],
  ["HERMES_GATEWAY_DB_CLOSE_TIMEOUT", formatDuration(budget.dbClose)]
]

/** What the operator runs after writing a replicated definition, one command or hint per line. */
export const replicatedNextSteps = (
  manager: Manager,
  outDir: string,
  serviceName: string,
  replication: Replication
): ReadonlyArray<string> =>
  manager === "kubernetes"
    ? [
      "# build and push the image from the docker definition, set image: in the file, then:",
      `kubectl create secret generic ${serviceName} --from-literal=api-key=...`,
      `# the connection URL, from your shell (never written into the definition):`,
      `kubectl create secret generic ${databaseSecretName(serviceName)} --from-literal=url="$${replication.urlEnv}"`,
      `kubectl apply -f ${shellWord(path.join(outDir, `${serviceName}.yaml`))}`
    ]
    : [
      "# the database password and the gateways' API key, in .env beside compose.yaml (letters and digits:",
      "# the password goes into a URL):",
      `cd ${shellWord(outDir)} && umask 077 && printf 'POSTGRES_PASSWORD=%s\\nHERMES_API_KEY=%s\\n' "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" > .env`,
      "docker compose up -d --build",
      `# ${replication.replicas} gateway${replication.replicas === 1 ? "" : "s"} on 127.0.0.1 port${replication.replicas === 1 ? "" : "s"} ${portRange(replication.replicas)}`
    ]

/** The host ports the compose replicas are published on, one each from the HTTP adapter's default. */
export const replicaPort = (index: number): number => defaultHttpPort + index

export const portRange = (replicas: number): string =>
  replicas === 1 ? `${replicaPort(0)}` : `${replicaPort(0)}-${replicaPort(replicas - 1)}`
