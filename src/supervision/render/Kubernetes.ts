// Kubernetes: a PersistentVolumeClaim for the home, a one-replica Deployment and a Service.
// The pod's preStop hook writes the planned-stop marker for pid 1 before the kubelet's SIGTERM.
import {
  containerEntry,
  containerHome,
  type DefinitionInput,
  type DefinitionFile,
  defaultHttpPort,
  generatedMark,
  hardDeadlineSeconds,
  killTimeoutSeconds,
  markArguments,
  startTimeoutSeconds
} from "../Definition.js"
import { yamlString } from "../Quoting.js"
import { gatewayArguments, gatewayCommand, listenEverywhere } from "./Container.js"

/** The preStop hook starts a node process and writes one file; its time counts against the grace period. */
export const preStopAllowanceSeconds = 10

/** The user of the node image (`node`, uid 1000), who owns the home in the image. */
export const nodeUid = 1000

/** The optional Secret whose keys become environment variables (bot token, agent API key). */
export const secretsName = (serviceName: string): string => `${serviceName}-secrets`

export const list = (words: ReadonlyArray<string>) => `[${words.map(yamlString).join(", ")}]`

/** A container probe asking the gateway's HTTP port for `path`, indented for the container spec. */
export const httpProbe = (probe: string, path: string, periodSeconds: number, failureThreshold: number) => [
  `          ${probe}:`,
  "            httpGet:",
  `              path: ${path}`,
  "              port: http",
  `            periodSeconds: ${periodSeconds}`,
  `            failureThreshold: ${failureThreshold}`
]

/** The labels that tie a gateway's resources together. */
export const labelsOf = (name: string): ReadonlyArray<string> => [
  `app.kubernetes.io/name: ${yamlString(name)}`,
  "app.kubernetes.io/component: gateway"
]

/** Every resource opens the same way: its kind, its name and the labels of the gateway `name`. */
export const resourceHeadOf = (name: string) => (apiVersion: string, kind: string, resourceName: string) => [
  `apiVersion: ${apiVersion}`,
  `kind: ${kind}`,
  "metadata:",
  `  name: ${yamlString(resourceName)}`,
  "  labels:",
  ...labelsOf(name).map((l) => `    ${l}`)
]

export const probePeriod = 5

/** The container's probes, as today for one replica: readiness on /readyz, liveness and start-up on /healthz. */
export const probes = (input: DefinitionInput): ReadonlyArray<string> => [
  "          # Ready only while intake is open: draining pods leave the Service at once.",
  ...httpProbe("readinessProbe", "/readyz", probePeriod, 2),
  "          # Healthy for as long as the process serves, draining included.",
  ...httpProbe("livenessProbe", "/healthz", 10, 3),
  "          # Adapters may take their whole connect timeout; liveness waits for start-up to end.",
  ...httpProbe("startupProbe", "/healthz", probePeriod, Math.ceil(startTimeoutSeconds(input.budget) / probePeriod))
]

/**
 * The Deployment's selector and pod template down to the gateway container's command: the same for
 * one gateway and for replicas (only the arguments and what follows differ).
 */
export const podTemplateHead = (name: string, labels: ReadonlyArray<string>, kill: number): ReadonlyArray<string> => [
  "  selector:",
  "    matchLabels:",
  `      app.kubernetes.io/name: ${yamlString(name)}`,
  "  template:",
  "    metadata:",
  "      labels:",
  ...labels.map((l) => `        ${l}`),
  "    spec:",
  `      terminationGracePeriodSeconds: ${kill + preStopAllowanceSeconds}`,
  "      shareProcessNamespace: false",
  "      securityContext:",
  "        runAsNonRoot: true",
  `        runAsUser: ${nodeUid}`,
  `        runAsGroup: ${nodeUid}`,
  `        fsGroup: ${nodeUid}`,
  "      containers:",
  "        - name: gateway",
  `          image: ${yamlString(`${name}:latest`)}`,
  "          imagePullPolicy: IfNotPresent",
  "          # node as the container's process: it is pid 1 and receives the kubelet's SIGTERM itself.",
  `          command: ${list(gatewayCommand)}`
]

/**
 * The gateway container's secrets and the variables every pod sets (supervisor, home, listener and
 * its API key), the same for one gateway and for replicas; each adds its own after these.
 */
export const containerEnvHead = (name: string, home: string): ReadonlyArray<string> => [
  "          envFrom:",
  "            - secretRef:",
  `                name: ${yamlString(secretsName(name))}`,
  "                optional: true",
  "          env:",
  "            - name: HERMES_SUPERVISOR",
  "              value: \"kubernetes\"",
  "            - name: HERMES_HOME",
  `              value: ${yamlString(home)}`,
  "            # A pod is reached through its own address, so the gateway listens on every interface,",
  "            # and a listener that is not loopback requires an API key (else exit 78).",
  "            - name: HERMES_ADAPTERS_HTTP_HOST",
  `              value: ${yamlString(listenEverywhere)}`,
  "            - name: HERMES_ADAPTERS_HTTP_API_KEY",
  "              valueFrom:",
  "                secretKeyRef:",
  `                  name: ${yamlString(name)}`,
  "                  key: api-key"
]

/** The gateway container's port, preStop hook (the planned-stop marker for pid 1), probes and home mount. */
export const containerTail = (input: DefinitionInput, home: string, mountPath: string): ReadonlyArray<string> => [
  "          ports:",
  "            - name: http",
  `              containerPort: ${defaultHttpPort}`,
  "          lifecycle:",
  "            preStop:",
  "              exec:",
  `                command: ${list(["node", ...markArguments(containerEntry, home, "1")])}`,
  ...probes(input),
  "          volumeMounts:",
  "            - name: home",
  `              mountPath: ${yamlString(mountPath)}`
]

/** The Service in front of the gateway pods (one or many), on the gateway's HTTP port. */
export const serviceOf = (name: string, resourceHead: ReturnType<typeof resourceHeadOf>): ReadonlyArray<string> => [
  ...resourceHead("v1", "Service", name),
  "spec:",
  "  selector:",
  `    app.kubernetes.io/name: ${yamlString(name)}`,
  "  ports:",
  "    - name: http",
  `      port: ${defaultHttpPort}`,
  "      targetPort: http"
]

/** The header line that says how the pod's grace period is sized. */
export const gracePeriodNote = (input: DefinitionInput): string =>
  `# terminationGracePeriodSeconds: hard shutdown deadline ${hardDeadlineSeconds(input.budget)}s + 5s,` +
  ` plus ${preStopAllowanceSeconds}s for the preStop hook.`

export const renderKubernetes = (input: DefinitionInput): ReadonlyArray<DefinitionFile> => {
  const name = input.serviceName
  const kill = killTimeoutSeconds(input.budget)
  const claim = `${name}-home`
  const labels = labelsOf(name)
  const resourceHead = resourceHeadOf(name)
  const content = [
    `# ${name}: the Hermes messaging gateway on Kubernetes.`,
    `# ${generatedMark} (--manager kubernetes); run it again after changing the shutdown budget.`,
    "#",
    "# Build and push the image from the docker definition (hermes gateway install --manager docker),",
    "# point `image:` below at it, then:",
    `#   kubectl create secret generic ${name} --from-literal=api-key=THE-KEY-CLIENTS-SEND`,
    "# and, for other secrets (optional), one environment variable per key:",
    `#   kubectl create secret generic ${secretsName(name)} --from-env-file=gateway.env`,
    `#   kubectl apply -f ${name}.yaml`,
    "#",
    "# Stops: when the pod is terminated (rollout, drain, delete, scale to 0) the kubelet runs the preStop",
    "# hook, which writes the planned-stop marker for pid 1, and then sends SIGTERM: a planned stop, exit 0.",
    "# Pid 1 is the gateway: the container runs node directly (command below, no init in the image) and",
    "# does not share the pod's process namespace (with shareProcessNamespace the pause process would be",
    "# pid 1). If you add an init such as tini, the gateway is no longer pid 1 and the hook marks nothing.",
    "# Exit codes: the kubelet restarts every exit of a Deployment's container (restartPolicy Always),",
    "# with CrashLoopBackOff delays for repeated failures. So 75, 1, 69 and 70 restart as they should;",
    "# 78 (invalid configuration) cannot be excluded and is retried with a backoff growing to 5 minutes",
    "# (kubectl logs names the bad key); a planned stop from inside the pod restarts too: scale to 0 instead.",
    gracePeriodNote(input),
    ...resourceHead("v1", "PersistentVolumeClaim", claim),
    "spec:",
    "  accessModes: [\"ReadWriteOnce\"]",
    "  resources:",
    "    requests:",
    "      storage: 1Gi",
    "---",
    ...resourceHead("apps/v1", "Deployment", name),
    "spec:",
    "  # One gateway per home: the old pod must be gone before a new one opens the same volume.",
    "  replicas: 1",
    "  strategy:",
    "    type: Recreate",
    ...podTemplateHead(name, labels, kill),
    `          args: ${list(gatewayArguments)}`,
    "          # Secrets such as TELEGRAM_BOT_TOKEN or the agent's API key, one variable per key; optional.",
    "          # Variables under env: below win over these.",
    ...containerEnvHead(name, containerHome),
    ...containerTail(input, containerHome, containerHome),
    "      volumes:",
    "        - name: home",
    "          persistentVolumeClaim:",
    `            claimName: ${yamlString(claim)}`,
    "---",
    ...serviceOf(name, resourceHead),
    ""
  ].join("\n")
  return [{ path: `${name}.yaml`, content, mode: 0o644 }]
}
