// docker compose with several replicas (`--replicas N --sessions postgres`): a `postgres` service
// (the official image, its data in a named volume, ready when pg_isready says so) and N gateway
// services, each with its own home volume, published on consecutive ports from 8642. The password
// is read from .env beside the file (or the shell), never written into it.
import {
  containerHome,
  type DefinitionFile,
  type DefinitionInput,
  defaultHttpPort,
  generatedMark,
  hardDeadlineSeconds,
  killTimeoutSeconds
} from "../Definition.js"
import { environmentFileName } from "../../home/HomePaths.js"
import { yamlString } from "../Quoting.js"
import { portRange, type Replication, replicaConfigVariables, replicaPort } from "../Replication.js"
import { listenEverywhere } from "./Container.js"
import { dockerfile, gatewayEnvironmentHead, gatewayHealthcheck, json, serviceImage } from "./Docker.js"

/** The official image, at the major version the PostgreSQL SessionDB is tested on. */
export const postgresImage = "postgres:15"
export const postgresService = "postgres"
export const postgresUser = "hermes"
export const postgresDatabase = "hermes"

/** compose fills it in from .env or the shell, and refuses to start without it. */
const passwordReference = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env beside compose.yaml}"

export const replicaServiceName = (serviceName: string, index: number): string => `${serviceName}-${index + 1}`

const gatewayService = (input: DefinitionInput, replication: Replication, index: number): ReadonlyArray<string> => {
  const service = replicaServiceName(input.serviceName, index)
  const port = replicaPort(index)
  return [
    `  ${service}:`,
    ...serviceImage(input),
    "    # A fixed host name: the replica's identity in the database stays the same across re-creations.",
    `    hostname: ${yamlString(service)}`,
    "    init: true",
    "    restart: unless-stopped",
    "    stop_signal: SIGTERM",
    `    stop_grace_period: ${killTimeoutSeconds(input.budget)}s`,
    "    depends_on:",
    `      ${postgresService}:`,
    "        condition: service_healthy",
    ...gatewayEnvironmentHead,
    `      HERMES_ADAPTERS_HTTP_HOST: ${yamlString(listenEverywhere)}`,
    `      HERMES_ADAPTERS_HTTP_API_KEY: ${yamlString("${HERMES_API_KEY:?set HERMES_API_KEY to the key clients must send}")}`,
    ...replicaConfigVariables(input.budget, replication).map(([variable, value]) => `      ${variable}: ${yamlString(value)}`),
    `      ${replication.urlEnv}: ${
      yamlString(`postgresql://${postgresUser}:${passwordReference}@${postgresService}:5432/${postgresDatabase}`)
    }`,
    "    ports:",
    `      - ${yamlString(`127.0.0.1:${port}:${defaultHttpPort}`)}`,
    "    volumes:",
    `      - ${yamlString(`${service}-home:${containerHome}`)}`,
    ...gatewayHealthcheck(input)
  ]
}

const compose = (input: DefinitionInput, replication: Replication): string => {
  const name = input.serviceName
  const indexes = Array.from({ length: replication.replicas }, (_, i) => i)
  const dataVolume = `${name}-postgres`
  return [
    `# ${name}: ${replication.replicas} Hermes messaging gateways and one PostgreSQL under docker compose.`,
    `# ${generatedMark} (--manager docker --replicas ${replication.replicas} --sessions postgres); run it`,
    "# again after changing the shutdown budget.",
    "#",
    "# Secrets, in .env beside this file (mode 0600; compose reads it for the ${...} below) or the shell:",
    "#   POSTGRES_PASSWORD  the database password, letters and digits only (it goes into a URL)",
    "#   HERMES_API_KEY     the key clients must send",
    "# then: docker compose up -d --build",
    "#",
    `# Replicas: ${name}-1 to ${replicaServiceName(name, replication.replicas - 1)}, each with its own home volume (its lock, pid,`,
    `# markers, logs), published on 127.0.0.1 ports ${portRange(replication.replicas)}: put the load balancer in front of`,
    "# that range. Conversations live in the database, so any replica can continue any session.",
    "# The homes have no config.yaml: the session engine and the shutdown budget are set below; give",
    `# other settings as HERMES_* variables in ${environmentFileName} (every replica reads it).`,
    "# Exit codes under `restart: unless-stopped`, as for one gateway: `docker compose stop` is an",
    "#   unmarked SIGTERM (drain, exit 1, run-intent kept) and docker leaves the container stopped;",
    "#   1, 69, 70, 75 and also 78 and 0 are restarted (docker cannot exclude a code; it backs off).",
    "# Stop order: compose stops the gateways (they drain and close the database) before postgres.",
    `# stop_grace_period: hard shutdown deadline ${hardDeadlineSeconds(input.budget)}s + 5s before docker sends SIGKILL.`,
    "services:",
    `  ${postgresService}:`,
    `    image: ${yamlString(postgresImage)}`,
    "    restart: unless-stopped",
    "    environment:",
    `      POSTGRES_USER: ${yamlString(postgresUser)}`,
    `      POSTGRES_DB: ${yamlString(postgresDatabase)}`,
    `      POSTGRES_PASSWORD: ${yamlString(passwordReference)}`,
    "    volumes:",
    `      - ${yamlString(`${dataVolume}:/var/lib/postgresql/data`)}`,
    "    # The gateways start once the server accepts connections (an unreachable database exits 69).",
    "    healthcheck:",
    `      test: ${json(["CMD", "pg_isready", "-U", postgresUser, "-d", postgresDatabase])}`,
    "      interval: 5s",
    "      timeout: 3s",
    "      start_period: 30s",
    "      retries: 10",
    ...indexes.flatMap((i) => gatewayService(input, replication, i)),
    "volumes:",
    `  ${dataVolume}: {}`,
    ...indexes.map((i) => `  ${replicaServiceName(name, i)}-home: {}`),
    ""
  ].join("\n")
}

export const renderComposeReplicas = (input: DefinitionInput, replication: Replication): ReadonlyArray<DefinitionFile> => [
  { path: "Dockerfile", content: dockerfile(input), mode: 0o644 },
  { path: "compose.yaml", content: compose(input, replication), mode: 0o644 }
]
