// End-to-end: the replicated Kubernetes Deployment's pod, run the way the kubelet runs it (without a
// cluster): the container's command and environment from the printed Deployment, a fresh world-
// writable directory as the emptyDir, the Secrets' values filled in, the preStop hook and then
// SIGTERM. Translated for the test machine only: node and the bundle's path, the emptyDir's path,
// and the listener (loopback, port 0) instead of every interface on 8642.
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { beforeAll, describe, it, type TestContext } from "vitest"
import { parseAllDocuments } from "yaml"
import { postgresUrl, scratchDatabase, urlFor } from "../unit/sessions/postgres.js"
import { assertBuilt, type Gateway, homeAt, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

const startTimeoutMs = 30_000

interface Pod {
  readonly env: Record<string, string>
  /** The home inside the emptyDir, translated. */
  readonly home: string
  readonly preStop: ReadonlyArray<string>
}

/** The pod template of `install --manager kubernetes --replicas 2 --sessions postgres`, printed by the CLI. */
const printedPod = async (ctx: TestContext, sb: Sandbox, secrets: { readonly url: string }): Promise<(volume: string) => Pod> => {
  const printed = await sb.cli([
    "gateway", "install", "--manager", "kubernetes", "--replicas", "2", "--sessions", "postgres", "--print",
    "--home", sb.home().dir
  ])
  ctx.expect(printed.code, printed.stderr).toBe(0)
  const deployment = parseAllDocuments(printed.stdout).map((d) => d.toJS()).find((d) => d.kind === "Deployment")
  const pod = deployment.spec.template.spec
  const [container] = pod.containers
  const mount: string = container.volumeMounts[0].mountPath
  const apiKey = randomBytes(18).toString("hex")
  return (volume) => {
    // Every path under the mount point, the mount point itself included, moves into the test's volume.
    const translate = (value: string) =>
      value === mount || value.startsWith(`${mount}/`) ? path.join(volume, value.slice(mount.length)) : value
    const env: Record<string, string> = {}
    for (const entry of container.env as Array<any>) {
      const ref = entry.valueFrom?.secretKeyRef
      env[entry.name] = ref === undefined ? translate(entry.value) : ref.key === "url" ? secrets.url : apiKey
    }
    // No network namespace here: loopback and a free port, not every interface on 8642.
    env.HERMES_ADAPTERS_HTTP_HOST = "127.0.0.1"
    env.HERMES_ADAPTERS_HTTP_PORT = "0"
    ctx.expect(container.args.slice(0, 3)).toEqual(["gateway", "run", "--home"])
    const home = translate(container.args[3])
    // Never a path of the machine running the test.
    ctx.expect(home.startsWith(`${volume}`)).toBe(true)
    return {
      env,
      home,
      preStop: (container.lifecycle.preStop.exec.command as Array<string>).slice(2).map(translate)
    }
  }
}

/**
 * A directory like a fresh emptyDir: world-writable and, when the test runs as root, another user's
 * (the kubelet creates it as root; the gateway runs as uid 1000), so the gateway could not take the
 * volume itself as its home.
 */
const emptyDir = (sb: Sandbox): string => {
  const dir = sb.home("").dir
  fs.chmodSync(dir, 0o777)
  if (process.getuid?.() === 0) fs.chownSync(dir, 65534, 65534)
  return dir
}

const startPod = (sb: Sandbox, pod: Pod, label: string): Gateway => sb.run(homeAt(pod.home), pod.env, label)

/** The kubelet's stop: the preStop hook (naming the gateway's pid, pid 1 in the pod), then SIGTERM. */
const stopPod = async (ctx: TestContext, sb: Sandbox, pod: Pod, gw: Gateway) => {
  const hook = await sb.cli(pod.preStop.map((word) => (word === "--pid=1" ? `--pid=${gw.pid}` : word)), pod.env)
  ctx.expect(hook.code, hook.stderr).toBe(0)
  gw.signal("SIGTERM")
  return gw.waitExit(startTimeoutMs)
}

describe("the replicated pod as the kubelet runs it", () => {
  // Needs no server: nothing listens on port 1. A pod that fell back to SQLite would start instead.
  it("its environment alone selects PostgreSQL: an unreachable database exits 69 from an empty volume", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const podIn = await printedPod(ctx, sb, { url: "postgresql://hermes:pw@127.0.0.1:1/hermes" })
    const pod = podIn(emptyDir(sb))
    const gw = startPod(sb, pod, "pod")
    const exit = await gw.waitExit(startTimeoutMs)
    expect(exit.code, gw.describe()).toBe(69)
    expect(gw.stderr).toContain("cannot reach PostgreSQL at 127.0.0.1:1")
    expect(fs.statSync(pod.home).mode & 0o777).toBe(0o700)
  }, 60_000)

  it.skipIf(postgresUrl === undefined)(
    `two pods, each with its own emptyDir home, run on one database and stop as planned (exit 0)${
      postgresUrl === undefined ? " (skipped: POSTGRES_TEST_URL is unset)" : ""
    }`,
    async (ctx) => {
      const { expect } = ctx
      const sb = new Sandbox(ctx)
      const scope = Effect.runSync(Scope.make())
      ctx.onTestFinished(() => Effect.runPromise(Scope.close(scope, Exit.void)))
      const database = await Effect.runPromise(Scope.extend(scratchDatabase, scope))
      const podIn = await printedPod(ctx, sb, { url: urlFor(database) })
      const pods = [podIn(emptyDir(sb)), podIn(emptyDir(sb))]
      const gateways = pods.map((pod, i) => startPod(sb, pod, `pod ${i + 1}`))
      for (const gw of gateways) await gw.waitRunning(startTimeoutMs)
      for (const gw of gateways) await gw.waitLog(/session db engine=postgresql/)
      for (const [i, pod] of pods.entries()) {
        const exit = await stopPod(ctx, sb, pod, gateways[i]!)
        expect(exit.code, gateways[i]!.describe()).toBe(0)
        expect(homeAt(pod.home).readState()?.gateway_state).toBe("stopped")
        expect(fs.existsSync(path.join(pod.home, "state.db"))).toBe(false)
      }
    },
    120_000
  )
})
