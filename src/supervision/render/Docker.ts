// Docker: a Dockerfile for the bundle and a compose.yaml that runs it. compose's `restart:
// unless-stopped` restarts every exit except after the operator's own `docker stop`.
import * as path from "node:path"
import {
  containerEntry,
  containerHome,
  type DefinitionInput,
  type DefinitionFile,
  defaultHttpPort,
  generatedMark,
  hardDeadlineSeconds,
  killTimeoutSeconds,
  startTimeoutSeconds
} from "../Definition.js"
import { environmentFileName } from "../../home/HomePaths.js"
import { sessionDbWorkerFile } from "../../sessions/worker/WorkerFile.js"
import { composeLiteral, shellWord, yamlString } from "../Quoting.js"
import { gatewayArguments, gatewayCommand, healthProbe, listenEverywhere } from "./Container.js"

export const json = (words: ReadonlyArray<string>) => JSON.stringify(words).replace(/","/g, "\", \"")

/** The optional secrets file beside compose.yaml, then the variables every gateway service sets first. */
export const gatewayEnvironmentHead: ReadonlyArray<string> = [
  "    env_file:",
  `      - path: ${yamlString(`./${environmentFileName}`)}`,
  "        required: false",
  "    environment:",
  "      HERMES_SUPERVISOR: docker",
  `      HERMES_HOME: ${yamlString(containerHome)}`
]

/** The image a compose service runs, built from the Dockerfile beside it and the bundle. */
export const serviceImage = (input: DefinitionInput): ReadonlyArray<string> => [
  `    image: ${yamlString(`${input.serviceName}:latest`)}`,
  "    build:",
  "      context: .",
  "      additional_contexts:",
  `        bundle: ${yamlString(composeLiteral(path.dirname(input.entry)))}`
]

/** The gateway's health check as compose runs it, patient for as long as start-up may take. */
export const gatewayHealthcheck = (input: DefinitionInput): ReadonlyArray<string> => [
  "    healthcheck:",
  `      test: ${json(["CMD", ...healthProbe])}`,
  "      interval: 10s",
  "      timeout: 3s",
  `      start_period: ${startTimeoutSeconds(input.budget)}s`,
  "      retries: 3"
]

export const dockerfile = (input: DefinitionInput): string => {
  const start = startTimeoutSeconds(input.budget)
  return [
    "# syntax=docker/dockerfile:1",
    `# ${input.serviceName}: the Hermes messaging gateway in a container.`,
    `# ${generatedMark} (--manager docker); run it again after changing the shutdown budget.`,
    "#",
    "# Build it (compose.yaml does the same): the bundle comes from a named build context, so this",
    "# directory needs nothing but this file.",
    `#   docker build --build-context ${shellWord(`bundle=${path.dirname(input.entry)}`)} -t ${input.serviceName} .`,
    "# The bundle is self-contained: no npm install and no node_modules in the image.",
    "#",
    "# PID 1: started as is (docker run without --init, Kubernetes), node itself is PID 1. That is safe",
    "# because the gateway handles SIGTERM, SIGINT and SIGHUP itself, and it keeps the pid that a stop",
    "# hook must name fixed at 1. compose.yaml sets `init: true` so docker's own tini also reaps the",
    "# orphans of the shutdown diagnostic; no init is baked in, so Kubernetes' preStop can rely on pid 1.",
    "FROM node:20-slim",
    `COPY --from=bundle ${json([path.basename(input.entry), containerEntry])}`,
    "# The entry loads the rest of the program from chunks/ beside it.",
    `COPY --from=bundle ${json(["chunks", path.posix.join(path.posix.dirname(containerEntry), "chunks")])}`,
    "# The SessionDB's worker thread, which the bundle loads from beside itself.",
    `COPY --from=bundle ${json([sessionDbWorkerFile, path.posix.join(path.posix.dirname(containerEntry), sessionDbWorkerFile)])}`,
    "# The home is a volume owned by the unprivileged user the gateway runs as.",
    `RUN mkdir -p ${containerHome} && chown node:node ${containerHome}`,
    `ENV HERMES_SUPERVISOR=docker HERMES_HOME=${containerHome}`,
    `VOLUME ["${containerHome}"]`,
    "USER node",
    `EXPOSE ${defaultHttpPort}`,
    "# The gateway drains on SIGTERM; a SIGTERM nobody announced exits 1 (docs/reference.md, Stop classification).",
    "STOPSIGNAL SIGTERM",
    "# node's fetch: slim images have no curl.",
    `HEALTHCHECK --interval=10s --timeout=3s --start-period=${start}s --retries=3 CMD ${json(healthProbe)}`,
    "# Exec form: node is exec'd directly, no shell in front of it to swallow signals.",
    `ENTRYPOINT ${json(gatewayCommand)}`,
    `CMD ${json(gatewayArguments)}`,
    ""
  ].join("\n")
}

const compose = (input: DefinitionInput): string => {
  const kill = killTimeoutSeconds(input.budget)
  const volume = `${input.serviceName}-home`
  return [
    `# ${input.serviceName}: the Hermes messaging gateway under docker compose.`,
    `# ${generatedMark} (--manager docker); run it again after changing the shutdown budget.`,
    "#",
    "# Exit codes under `restart: unless-stopped`:",
    "#   `docker stop` / `docker compose stop` send SIGTERM that no marker announces: the gateway drains,",
    "#   exits 1 and keeps its run-intent; docker does not restart a container its operator stopped, and",
    "#   `docker start` (or a reboot) brings it back. That is the contract's unplanned stop.",
    "#   1, 69, 70 and 75 are restarted (docker backs off from 100 ms, doubling).",
    "#   78 (invalid configuration) is restarted too: docker cannot exclude an exit code. The backoff",
    "#   keeps it slow; `docker compose logs` names the bad key.",
    "#   0 (a planned stop from inside, `hermes gateway stop` through docker exec) is restarted as well;",
    "#   stop the container instead, or use `gateway boot` as the command, which starts the gateway only",
    "#   while its desired_state is running (docs/reference.md, State file).",
    `# stop_grace_period: hard shutdown deadline ${hardDeadlineSeconds(input.budget)}s + 5s before docker sends SIGKILL.`,
    `# The shutdown budget came from ${input.home}/config.yaml: copy that file into the volume`,
    `# (docker compose cp config.yaml ${input.serviceName}:${containerHome}/config.yaml) so the gateway runs with the same one.`,
    "services:",
    `  ${input.serviceName}:`,
    ...serviceImage(input),
    "    # docker's tini as PID 1: forwards signals, reaps orphans, returns the gateway's exit code.",
    "    init: true",
    "    restart: unless-stopped",
    "    stop_signal: SIGTERM",
    `    stop_grace_period: ${kill}s`,
    "    # Secrets (TELEGRAM_BOT_TOKEN, the agent's API key) as KEY=value lines in gateway.env beside this",
    "    # file, mode 0600; optional (compose 2.24 or later). Values under environment: below win over it.",
    ...gatewayEnvironmentHead,
    "      # Reachable through the published port only on 0.0.0.0, which requires an API key.",
    `      HERMES_ADAPTERS_HTTP_HOST: ${yamlString(listenEverywhere)}`,
    `      HERMES_ADAPTERS_HTTP_API_KEY: ${yamlString("${HERMES_API_KEY:?set HERMES_API_KEY to the key clients must send}")}`,
    "    ports:",
    "      # Published on the host's loopback only; drop the 127.0.0.1: prefix to expose it.",
    `      - ${yamlString(`127.0.0.1:${defaultHttpPort}:${defaultHttpPort}`)}`,
    "    volumes:",
    `      - ${yamlString(`${volume}:${containerHome}`)}`,
    ...gatewayHealthcheck(input),
    "volumes:",
    `  ${volume}: {}`,
    ""
  ].join("\n")
}

export const renderDocker = (input: DefinitionInput): ReadonlyArray<DefinitionFile> => [
  { path: "Dockerfile", content: dockerfile(input), mode: 0o644 },
  { path: "compose.yaml", content: compose(input), mode: 0o644 }
]
