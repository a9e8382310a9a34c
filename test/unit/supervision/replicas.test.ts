// Replicated definitions (`install --replicas N --sessions postgres`): the flag decision, and what a
// rendered Deployment or compose file must promise, read back with a YAML parser: a rollout never
// drops below N ready gateways, a disruption budget, the URL only from a Secret or .env, a home per
// gateway, grace periods above the drain budget, and a config the gateway itself decodes as postgres.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as YAML from "yaml"
import { decodeConfig } from "../../../src/config/LoadConfig.js"
import { type ShutdownBudget } from "../../../src/lifecycle/ShutdownBudget.js"
import { type DefinitionInput, killTimeoutSeconds, type Manager, managers } from "../../../src/supervision/Definition.js"
import { renderers } from "../../../src/supervision/Renderers.js"
import { replicatingManagers, type Replication, replicationOf } from "../../../src/supervision/Replication.js"
import { replicaHome } from "../../../src/supervision/render/KubernetesReplicas.js"
import { renderDocker } from "../../../src/supervision/render/Docker.js"
import { renderKubernetes } from "../../../src/supervision/render/Kubernetes.js"
import { defaultBudget, fileNamed, goldenInput } from "./fixtures.js"

const replicated = (manager: Manager, replicas: number, over: Partial<Replication> = {}, budget = defaultBudget) => {
  const input: DefinitionInput = {
    ...goldenInput(manager),
    budget,
    replication: { replicas, urlEnv: "DATABASE_URL", ...over }
  }
  return renderers[manager](input)
}

const seconds = (d: Duration.Duration) => Duration.toMillis(d) / 1000

/** The config a gateway started with these variables (and no config.yaml) runs with. */
const configFrom = (env: Record<string, string>) => {
  const decoded = decodeConfig(undefined, { file: "/nonexistent/config.yaml", env })
  if (Either.isLeft(decoded)) throw new Error(decoded.left.message)
  return decoded.right
}

const expectBudget = (config: ReturnType<typeof configFrom>, budget: ShutdownBudget) => {
  expect(seconds(config.gateway.drain_timeout)).toBe(seconds(budget.drain))
  expect(seconds(config.gateway.adapter_connect_timeout)).toBe(seconds(budget.adapterConnect))
  expect(seconds(config.gateway.adapter_disconnect_timeout)).toBe(seconds(budget.adapterDisconnect))
  expect(seconds(config.gateway.db_close_timeout)).toBe(seconds(budget.dbClose))
}

const longBudget: ShutdownBudget = {
  ...defaultBudget,
  drain: Duration.minutes(3),
  adapterDisconnect: Duration.seconds(12),
  dbClose: Duration.millis(7500)
}

describe("replicationOf", () => {
  const of = (manager: Manager, replicas?: string, sessions?: string) => replicationOf({ manager, replicas, sessions })

  it("leaves today's definition alone without the flags, with --replicas 1 or --sessions sqlite", () => {
    for (const manager of replicatingManagers) {
      expect(of(manager)).toEqual(Either.right(undefined))
      expect(of(manager, "1")).toEqual(Either.right(undefined))
      expect(of(manager, "1", "sqlite")).toEqual(Either.right(undefined))
      expect(of(manager, undefined, "sqlite")).toEqual(Either.right(undefined))
    }
  })

  it("replicates kubernetes and docker on postgres, one replica when --replicas is absent", () => {
    expect(of("kubernetes", "3", "postgres")).toEqual(Either.right({ replicas: 3 }))
    expect(of("docker", "100", "postgres")).toEqual(Either.right({ replicas: 100 }))
    expect(of("docker", undefined, "postgres")).toEqual(Either.right({ replicas: 1 }))
  })

  it("refuses bad input with one line naming the flag", () => {
    const cases: ReadonlyArray<readonly [Parameters<typeof of>, RegExp]> = [
      [["kubernetes", "0", "postgres"], /^--replicas must be a whole number from 1 to 100, got 0$/],
      [["kubernetes", "101", "postgres"], /^--replicas must be .* got 101$/],
      [["kubernetes", "1.5", "postgres"], /^--replicas must be .* got "1\.5"$/],
      [["docker", "-2", "postgres"], /^--replicas must be .* got "-2"$/],
      [["docker", "three", "postgres"], /^--replicas must be .* got "three"$/],
      [["docker", "", "postgres"], /^--replicas must be .* got ""$/],
      [["docker", "3"], /^--replicas 3 needs --sessions postgres: /],
      [["kubernetes", "2", "sqlite"], /^--replicas 2 needs --sessions postgres: /],
      [["kubernetes", "2", "mysql"], /^--sessions must be sqlite or postgres, got "mysql"$/],
      [["systemd", "2", "postgres"], /^--replicas is for the kubernetes and docker definitions only: a systemd definition/],
      [["s6", undefined, "postgres"], /^--sessions is for the kubernetes and docker definitions only: a s6 definition/]
    ]
    for (const [args, message] of cases) {
      const result = of(...args)
      expect(Either.isLeft(result), JSON.stringify(args)).toBe(true)
      const line = Either.getLeft(result).pipe((o) => (o._tag === "Some" ? o.value : ""))
      expect(line, JSON.stringify(args)).toMatch(message)
      expect(line).not.toContain("\n")
    }
  })

  it.prop(
    "a manager that supervises one process refuses --replicas, even 1",
    [FastCheck.constantFrom(...managers.filter((m) => !replicatingManagers.includes(m))), FastCheck.integer({ min: 1, max: 100 })],
    ([manager, replicas]) => {
      expect(Either.isLeft(of(manager, String(replicas), "postgres"))).toBe(true)
      expect(Either.isLeft(of(manager, String(replicas)))).toBe(true)
    }
  )
})

describe("kubernetes replicas", () => {
  const documents = (replicas: number, over: Partial<Replication> = {}, budget = defaultBudget) =>
    YAML.parseAllDocuments(replicated("kubernetes", replicas, over, budget)[0]!.content).map((d) => d.toJS())
  const deploymentOf = (docs: Array<any>) => docs.find((d) => d.kind === "Deployment")

  it("renders a Deployment, a PodDisruptionBudget and a Service, and no shared volume claim", () => {
    expect(documents(3).map((d) => d.kind)).toEqual(["Deployment", "PodDisruptionBudget", "Service"])
  })

  it("rolls one new pod in before an old one goes: RollingUpdate, maxUnavailable 0, maxSurge 1", () => {
    const deployment = deploymentOf(documents(3))
    expect(deployment.spec.replicas).toBe(3)
    expect(deployment.spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } })
  })

  it("the disruption budget evicts one gateway at a time, selecting the Deployment's pods", () => {
    const docs = documents(3)
    const pdb = docs.find((d) => d.kind === "PodDisruptionBudget")
    expect(pdb.apiVersion).toBe("policy/v1")
    expect(pdb.spec.maxUnavailable).toBe(1)
    expect(pdb.spec.minAvailable).toBeUndefined()
    expect(deploymentOf(docs).spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels)
    const service = docs.find((d) => d.kind === "Service")
    expect(deploymentOf(docs).spec.template.metadata.labels).toMatchObject(service.spec.selector)
  })

  it("each pod has its own home in an emptyDir, below the mount point, and the hook marks that home", () => {
    const pod = deploymentOf(documents(3)).spec.template.spec
    expect(pod.volumes).toEqual([{ name: "home", emptyDir: {} }])
    const [container] = pod.containers
    expect(container.volumeMounts).toEqual([{ name: "home", mountPath: "/data" }])
    expect(container.args).toEqual(["gateway", "run", "--home", replicaHome])
    expect(replicaHome.startsWith("/data/")).toBe(true)
    expect(container.lifecycle.preStop.exec.command).toEqual(
      ["node", "/app/hermes.js", "gateway", "stop", "--mark-only", "--pid=1", "--home", replicaHome]
    )
  })

  it("takes the URL from a Secret under the variable url_env names, and holds no URL or password", () => {
    for (const urlEnv of ["DATABASE_URL", "HERMES_PG_URL"]) {
      const text = replicated("kubernetes", 2, { urlEnv })[0]!.content
      expect(text).not.toContain("://")
      expect(text).not.toMatch(/password\s*[:=]/i)
      const [container] = deploymentOf(documents(2, { urlEnv })).spec.template.spec.containers
      const env = new Map(container.env.map((e: any) => [e.name, e]))
      expect(env.get(urlEnv)).toEqual({
        name: urlEnv,
        valueFrom: { secretKeyRef: { name: "hermes-gateway-database", key: "url" } }
      })
      expect(env.get("HERMES_SESSIONS_POSTGRES_URL_ENV")).toEqual({ name: "HERMES_SESSIONS_POSTGRES_URL_ENV", value: urlEnv })
    }
  })

  it("the pod's variables alone configure postgres and the budget the grace period was sized for", () => {
    for (const budget of [defaultBudget, longBudget]) {
      const [container] = deploymentOf(documents(2, {}, budget)).spec.template.spec.containers
      const env: Record<string, string> = Object.fromEntries(
        container.env.map((e: any) => [e.name, e.value ?? (e.name === "DATABASE_URL" ? "postgresql://u:p@db:5432/h" : "k".repeat(24))])
      )
      delete env.HERMES_HOME
      delete env.HERMES_SUPERVISOR
      const config = configFrom(env)
      expect(config.sessions.engine).toBe("postgres")
      expect(config.sessions.postgres.url_env).toBe("DATABASE_URL")
      expectBudget(config, budget)
    }
  })

  it.prop(
    "probes as today, and a grace period above the drain budget and the kill timeout plus the hook",
    [FastCheck.integer({ min: 1, max: 100 }), FastCheck.integer({ min: 1, max: 600 })],
    ([replicas, drain]) => {
      const budget = { ...defaultBudget, drain: Duration.seconds(drain) }
      const deployment = deploymentOf(documents(replicas, {}, budget))
      expect(deployment.spec.replicas).toBe(replicas)
      const pod = deployment.spec.template.spec
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drain)
      expect(pod.terminationGracePeriodSeconds).toBe(killTimeoutSeconds(budget) + 10)
      const [container] = pod.containers
      expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" })
      expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" })
      expect(container.command).toEqual(["node", "/app/hermes.js"])
    },
    { fastCheck: { numRuns: 25 } }
  )

  it("without replication the renderer is today's, file for file", () => {
    expect(renderers.kubernetes(goldenInput("kubernetes"))).toEqual(renderKubernetes(goldenInput("kubernetes")))
    expect(renderers.docker(goldenInput("docker"))).toEqual(renderDocker(goldenInput("docker")))
  })
})

describe("docker compose replicas", () => {
  const composeOf = (replicas: number, over: Partial<Replication> = {}, budget = defaultBudget) => {
    const files = replicated("docker", replicas, over, budget)
    return { text: fileNamed(files, "compose.yaml").content, compose: YAML.parse(fileNamed(files, "compose.yaml").content), files }
  }
  const gateways = (compose: any) => Object.keys(compose.services).filter((name) => name !== "postgres")
  /** What compose makes of `${VAR:?message}` with VAR set. */
  const interpolate = (value: string, vars: Record<string, string>) =>
    value.replace(/\$\{([A-Z_]+):\?[^}]*\}/g, (_, name: string) => vars[name]!)

  it("writes the same Dockerfile as one gateway, and a postgres service with a named volume and a healthcheck", () => {
    const { compose, files } = composeOf(3)
    expect(fileNamed(files, "Dockerfile")).toEqual(fileNamed(renderDocker(goldenInput("docker")), "Dockerfile"))
    const postgres = compose.services.postgres
    expect(postgres.image).toMatch(/^postgres:\d+$/)
    expect(postgres.volumes).toEqual(["hermes-gateway-postgres:/var/lib/postgresql/data"])
    expect(compose.volumes["hermes-gateway-postgres"]).toEqual({})
    expect(postgres.healthcheck.test).toEqual(["CMD", "pg_isready", "-U", "hermes", "-d", "hermes"])
    expect(postgres.restart).toBe("unless-stopped")
  })

  it("never holds the password: postgres and the gateways read it from .env or the shell", () => {
    const { compose, text } = composeOf(3)
    expect(compose.services.postgres.environment.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?[^}]+\}$/)
    for (const name of gateways(compose)) {
      const url: string = compose.services[name].environment.DATABASE_URL
      expect(url).toMatch(/^postgresql:\/\/hermes:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\/hermes$/)
    }
    // No value anywhere is a literal password: every line that mentions it is a ${...} reference or a comment.
    for (const line of text.split("\n").filter((l) => /password/i.test(l) && !l.trimStart().startsWith("#"))) {
      expect(line).toMatch(/\$\{POSTGRES_PASSWORD:\?/)
    }
  })

  it.prop(
    "N gateways, each with its own home volume, on consecutive ports, after postgres is healthy",
    [FastCheck.integer({ min: 1, max: 100 })],
    ([replicas]) => {
      const { compose } = composeOf(replicas)
      const names = gateways(compose)
      expect(names).toEqual(Array.from({ length: replicas }, (_, i) => `hermes-gateway-${i + 1}`))
      const homes = names.map((name) => compose.services[name].volumes[0])
      expect(new Set(homes).size).toBe(replicas)
      names.forEach((name, i) => {
        const service = compose.services[name]
        expect(service.volumes).toEqual([`${name}-home:/data`])
        expect(compose.volumes[`${name}-home`]).toEqual({})
        expect(service.ports).toEqual([`127.0.0.1:${8642 + i}:8642`])
        expect(service.depends_on).toEqual({ postgres: { condition: "service_healthy" } })
        expect(service.hostname).toBe(name)
      })
    },
    { fastCheck: { numRuns: 15 } }
  )

  it("each gateway keeps the contract's restart and stop rules, its grace period above the drain budget", () => {
    for (const budget of [defaultBudget, longBudget]) {
      const { compose } = composeOf(2, {}, budget)
      for (const name of gateways(compose)) {
        const service = compose.services[name]
        expect(service.restart).toBe("unless-stopped")
        expect(service.init).toBe(true)
        expect(service.stop_signal).toBe("SIGTERM")
        const grace = Number(/^(\d+)s$/.exec(service.stop_grace_period)![1])
        expect(grace).toBe(killTimeoutSeconds(budget))
        expect(grace).toBeGreaterThan(seconds(budget.drain))
      }
    }
  })

  it("a gateway's environment alone configures postgres, the URL's variable and the budget", () => {
    const { compose } = composeOf(2, { urlEnv: "PG_URL" }, longBudget)
    for (const name of gateways(compose)) {
      const vars = { POSTGRES_PASSWORD: "abc123", HERMES_API_KEY: "k".repeat(24) }
      const env: Record<string, string> = Object.fromEntries(
        Object.entries(compose.services[name].environment as Record<string, string>).map(([k, v]) => [k, interpolate(v, vars)])
      )
      expect(env.PG_URL).toBe("postgresql://hermes:abc123@postgres:5432/hermes")
      delete env.HERMES_HOME
      delete env.HERMES_SUPERVISOR
      const config = configFrom(env)
      expect(config.sessions.engine).toBe("postgres")
      expect(config.sessions.postgres.url_env).toBe("PG_URL")
      expectBudget(config, longBudget)
    }
  })
})
