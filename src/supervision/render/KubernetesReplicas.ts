// Kubernetes with several replicas (`--replicas N --sessions postgres`): a Deployment that rolls one
// pod at a time without ever dropping below N ready pods, a PodDisruptionBudget, a Service. Every pod
// has its own home in an emptyDir (its lock, pid, markers and logs: a home belongs to one gateway),
// and all share one PostgreSQL database whose URL comes from a Secret, never from this file.
import {
  type DefinitionFile,
  type DefinitionInput,
  generatedMark,
  killTimeoutSeconds
} from "../Definition.js"
import { yamlString } from "../Quoting.js"
import { databaseSecretName, type Replication, replicaConfigVariables } from "../Replication.js"
import {
  containerEnvHead,
  containerTail,
  gracePeriodNote,
  labelsOf,
  podTemplateHead,
  list,
  resourceHeadOf,
  secretsName,
  serviceOf
} from "./Kubernetes.js"

/** The emptyDir's mount point. The home is a directory the gateway creates in it (0700, its own):
 * the volume's root belongs to root and is world-writable, which the gateway rightly refuses as a home. */
export const replicaVolume = "/data"
export const replicaHome = "/data/home"

export const renderKubernetesReplicas = (input: DefinitionInput, replication: Replication): ReadonlyArray<DefinitionFile> => {
  const name = input.serviceName
  const kill = killTimeoutSeconds(input.budget)
  const labels = labelsOf(name)
  const resourceHead = resourceHeadOf(name)
  const database = databaseSecretName(name)
  const content = [
    `# ${name}: ${replication.replicas} replicas of the Hermes messaging gateway on Kubernetes, sharing one`,
    "# PostgreSQL database.",
    `# ${generatedMark} (--manager kubernetes --replicas ${replication.replicas} --sessions postgres); run it`,
    "# again after changing the shutdown budget.",
    "#",
    "# Build and push the image from the docker definition (hermes gateway install --manager docker),",
    "# point `image:` below at it, then:",
    `#   kubectl create secret generic ${name} --from-literal=api-key=THE-KEY-CLIENTS-SEND`,
    `#   kubectl create secret generic ${database} --from-literal=url="$${replication.urlEnv}"`,
    `# (the connection URL with its password, from your shell: this file never holds it), and, for`,
    "# other secrets (optional), one environment variable per key:",
    `#   kubectl create secret generic ${secretsName(name)} --from-env-file=gateway.env`,
    `#   kubectl apply -f ${name}.yaml`,
    "#",
    "# Homes: each pod's home is an emptyDir, created with the pod and deleted with it (its shutdown",
    "# reports too; the gateway logs to stderr, so kubectl logs keeps the rest). Conversations live in",
    "# the database; a replica that goes away has its running turns recovered by another.",
    "# The pod has no config.yaml: the session engine and the shutdown budget are set below as",
    "# HERMES_* variables; give other settings the same way, in the optional Secret above.",
    "# Stops: the preStop hook writes the planned-stop marker for pid 1 (node, the container's own",
    "# process), then the kubelet sends SIGTERM: a planned stop, exit 0. /readyz turns false at once, so",
    "# the Service stops sending a draining pod new requests while the others take them.",
    "# Exit codes: the kubelet restarts every exit (restartPolicy Always) with CrashLoopBackOff delays;",
    "# 78 (invalid configuration) cannot be excluded and is retried with a backoff growing to 5 minutes.",
    gracePeriodNote(input),
    ...resourceHead("apps/v1", "Deployment", name),
    "spec:",
    `  replicas: ${replication.replicas}`,
    "  strategy:",
    "    type: RollingUpdate",
    "    rollingUpdate:",
    "      # A new pod is ready before an old one is stopped: never fewer ready gateways than replicas.",
    "      maxUnavailable: 0",
    "      maxSurge: 1",
    ...podTemplateHead(name, labels, kill),
    `          args: ${list(["gateway", "run", "--home", replicaHome])}`,
    "          # Secrets and other settings, one variable per key; optional. Variables under env: win.",
    ...containerEnvHead(name, replicaHome),
    "            # The session engine and the shutdown budget the grace period is sized for.",
    ...replicaConfigVariables(input.budget, replication).flatMap(([variable, value]) => [
      `            - name: ${variable}`,
      `              value: ${yamlString(value)}`
    ]),
    "            # The connection URL, from the Secret: it holds the password.",
    `            - name: ${replication.urlEnv}`,
    "              valueFrom:",
    "                secretKeyRef:",
    `                  name: ${yamlString(database)}`,
    "                  key: url",
    ...containerTail(input, replicaHome, replicaVolume),
    "      volumes:",
    "        # One home per pod: each gateway holds its own home's lock (a shared volume would let only one start).",
    "        - name: home",
    "          emptyDir: {}",
    "---",
    ...resourceHead("policy/v1", "PodDisruptionBudget", name),
    "spec:",
    "  # Node drains evict one gateway at a time, whatever the replica count is scaled to later",
    "  # (minAvailable N-1 would block every eviction once scaled down to N-1).",
    "  maxUnavailable: 1",
    "  selector:",
    "    matchLabels:",
    `      app.kubernetes.io/name: ${yamlString(name)}`,
    "---",
    ...serviceOf(name, resourceHead),
    ""
  ].join("\n")
  return [{ path: `${name}.yaml`, content, mode: 0o644 }]
}
