// End-to-end: `hermes gateway install --manager kubernetes|docker --replicas N --sessions postgres`
// run as the built CLI: the replicated definitions it prints or writes (sized from the home's
// config, the URL's variable from sessions.postgres.url_env), today's single-replica output
// unchanged, and each bad flag refused with exit 64 and one line, before anything is written.
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, it } from "vitest"
import { parse as parseYaml, parseAllDocuments } from "yaml"
import { assertBuilt, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

/** A config with a drain longer than the default and the URL under a variable of the operator's choosing. */
const replicaConfig = [
  "gateway:",
  "  drain_timeout: 2min",
  "sessions:",
  "  postgres:",
  "    url_env: PG_URL",
  ""
].join("\n")

describe.concurrent("install --replicas N --sessions postgres", () => {
  it("kubernetes: a rolling Deployment of N pods with a disruption budget, the URL from a Secret", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(replicaConfig)
    const result = await sb.cli([
      "gateway", "install", "--manager", "kubernetes", "--replicas", "3", "--sessions", "postgres", "--print", "--home", home.dir
    ])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout).not.toContain("://")
    const docs = parseAllDocuments(result.stdout).map((d) => d.toJS())
    expect(docs.map((d) => d.kind)).toEqual(["Deployment", "PodDisruptionBudget", "Service"])
    const [deployment, pdb] = docs
    expect(deployment.spec.replicas).toBe(3)
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 })
    expect(pdb.spec.maxUnavailable).toBe(1)
    const pod = deployment.spec.template.spec
    // 2 min drain + 5 s + 5 s + 5 s slack = 135 s hard deadline; + 5 s kill margin; + 10 s for preStop.
    expect(pod.terminationGracePeriodSeconds).toBe(150)
    expect(pod.volumes).toEqual([{ name: "home", emptyDir: {} }])
    const env = new Map(pod.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]))
    expect(env.get("PG_URL")).toEqual({ secretKeyRef: { name: "hermes-gateway-database", key: "url" } })
    expect(env.get("HERMES_SESSIONS_ENGINE")).toBe("postgres")
    expect(env.get("HERMES_SESSIONS_POSTGRES_URL_ENV")).toBe("PG_URL")
    expect(env.get("HERMES_GATEWAY_DRAIN_TIMEOUT")).toBe("2min")
  })

  it("docker: writes a compose file with postgres and N gateways on a port range, and says what to run", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(replicaConfig)
    const out = path.join(home.dir, "out")
    const result = await sb.cli([
      "gateway", "install", "--manager", "docker", "--replicas", "3", "--sessions", "postgres", "--out", out, "--home", home.dir
    ])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`wrote ${path.join(out, "compose.yaml")}`)
    expect(result.stdout).toContain("docker compose up -d --build")
    expect(result.stdout).toContain("3 gateways on 127.0.0.1 ports 8642-8644")
    expect(fs.readdirSync(out).sort()).toEqual(["Dockerfile", "compose.yaml"])
    const compose = parseYaml(fs.readFileSync(path.join(out, "compose.yaml"), "utf8"))
    expect(Object.keys(compose.services)).toEqual(["postgres", "hermes-gateway-1", "hermes-gateway-2", "hermes-gateway-3"])
    const ports = ["hermes-gateway-1", "hermes-gateway-2", "hermes-gateway-3"].map((name) => compose.services[name].ports[0])
    expect(ports).toEqual(["127.0.0.1:8642:8642", "127.0.0.1:8643:8642", "127.0.0.1:8644:8642"])
    expect(compose.services["hermes-gateway-2"].stop_grace_period).toBe("140s")
    expect(compose.services["hermes-gateway-2"].environment.PG_URL).toMatch(/^postgresql:\/\/hermes:\$\{POSTGRES_PASSWORD:\?/)
    // A second install with nothing changed leaves both files alone, as for one gateway.
    const again = await sb.cli([
      "gateway", "install", "--manager", "docker", "--replicas", "3", "--sessions", "postgres", "--out", out, "--home", home.dir
    ])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain(`unchanged ${path.join(out, "compose.yaml")}`)
  })

  it("--replicas 1 and --sessions sqlite print today's single-replica definitions byte for byte", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    for (const manager of ["kubernetes", "docker"]) {
      const base = ["gateway", "install", "--manager", manager, "--print", "--home", home.dir]
      const today = await sb.cli(base)
      expect(today.code).toBe(0)
      for (const flags of [["--replicas", "1"], ["--sessions", "sqlite"], ["--replicas", "1", "--sessions", "sqlite"]]) {
        const result = await sb.cli([...base, ...flags])
        expect(result.code, flags.join(" ")).toBe(0)
        expect(result.stdout, flags.join(" ")).toBe(today.stdout)
      }
    }
  })

  const refused: ReadonlyArray<readonly [string, ReadonlyArray<string>, RegExp]> = [
    ["--replicas 0", ["--manager", "kubernetes", "--replicas", "0", "--sessions", "postgres"], /^--replicas must be a whole number from 1 to 100, got 0$/],
    ["a non-integer", ["--manager", "docker", "--replicas", "2.5", "--sessions", "postgres"], /^--replicas must be a whole number from 1 to 100, got "2\.5"$/],
    ["more than 1 without postgres", ["--manager", "kubernetes", "--replicas", "3"], /^--replicas 3 needs --sessions postgres: /],
    ["a manager that cannot replicate", ["--manager", "systemd", "--replicas", "2", "--sessions", "postgres"], /^--replicas is for the kubernetes and docker definitions only: a systemd definition runs one gateway/],
    ["supervisord with --sessions", ["--manager", "supervisord", "--sessions", "postgres"], /^--sessions is for the kubernetes and docker definitions only: /],
    ["an unknown engine", ["--manager", "docker", "--replicas", "2", "--sessions", "mysql"], /^--sessions must be sqlite or postgres, got "mysql"$/]
  ]
  for (const [what, flags, message] of refused) {
    it(`refuses ${what}: exit 64, one line, nothing written`, async (ctx) => {
      const { expect } = ctx
      const sb = new Sandbox(ctx)
      const home = sb.home()
      const out = path.join(home.dir, "out")
      const result = await sb.cli(["gateway", "install", ...flags, "--out", out, "--home", home.dir])
      expect(result.code).toBe(64)
      expect(result.stdout).toBe("")
      const lines = result.stderr.split("\n").filter((l) => l !== "")
      expect(lines).toHaveLength(1)
      expect(lines[0]!.replace(/^hermes: /, "")).toMatch(message)
      expect(fs.existsSync(out)).toBe(false)
    })
  }
})
