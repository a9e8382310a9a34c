// N gateway replicas sharing one PostgreSQL database, each with its own home and a fixed HTTP port
// (so the load balancer's backend list stays valid across restarts), run as the built CLI under
// the test's Sandbox: every process is SIGKILLed and every home removed when the test ends, even
// when it fails. The test plays the supervisor: planned stops, SIGKILLs and restarts.
import * as net from "node:net"
import type { TestContext } from "vitest"
import { type Gateway, type Home, readyz, Sandbox, sleep } from "../harness.js"

export interface ReplicaOptions {
  /** The database URL each replica reads from DATABASE_URL (sessions.postgres.url_env default). */
  readonly databaseUrl: string
  /** The fake Bot API's base URL and token; absent: HTTP only. */
  readonly telegram?: { readonly url: string; readonly token: string; readonly pollTimeout: string }
  /** agent.echo.delay: long enough that kills land on turns in flight. */
  readonly echoDelay: string
  readonly drainTimeout: string
  /** Raw lines under `sessions.postgres:` (e.g. lease settings). */
  readonly postgresExtra?: ReadonlyArray<string>
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer().once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** config.yaml of one replica. The test is the supervisor, so the respawn-storm breaker is off. */
export const replicaConfig = (port: number, options: ReplicaOptions): string =>
  [
    "gateway:",
    `  drain_timeout: ${options.drainTimeout}`,
    "  respawn_storm:",
    "    window: 0",
    "sessions:",
    "  engine: postgres",
    ...(options.postgresExtra !== undefined && options.postgresExtra.length > 0
      ? ["  postgres:", ...options.postgresExtra.map((line) => `    ${line}`)]
      : []),
    "adapters:",
    "  http:",
    `    port: ${port}`,
    ...(options.telegram === undefined ? [] : [
      "  telegram:",
      "    enabled: true",
      "    token_env: TELEGRAM_BOT_TOKEN",
      `    api_base_url: ${JSON.stringify(options.telegram.url)}`,
      `    poll_timeout: ${options.telegram.pollTimeout}`,
      "    allowed_users: []"
    ]),
    "agent:",
    "  kind: echo",
    "  echo:",
    `    delay: ${options.echoDelay}`,
    ""
  ].join("\n")

export interface Replica {
  readonly index: number
  readonly home: Home
  readonly port: number
  /** The current life (the last process started in this home). */
  life: Gateway
  lives: number
}

export class ReplicaSet {
  readonly sandbox: Sandbox
  readonly replicas: Array<Replica> = []
  private readonly env: Record<string, string>

  constructor(ctx: TestContext, private readonly options: ReplicaOptions) {
    this.sandbox = new Sandbox(ctx)
    this.env = {
      DATABASE_URL: options.databaseUrl,
      ...(options.telegram !== undefined ? { TELEGRAM_BOT_TOKEN: options.telegram.token } : {})
    }
  }

  get ports(): Array<number> {
    return this.replicas.map((r) => r.port)
  }

  /** Starts `count` replicas one after the other (the first creates the schema), each until ready. */
  async start(count: number): Promise<void> {
    for (let index = 0; index < count; index++) {
      const port = await freePort()
      const home = this.sandbox.home(replicaConfig(port, this.options))
      const replica: Replica = { index, home, port, life: undefined as unknown as Gateway, lives: 0 }
      this.replicas.push(replica)
      this.spawn(replica)
      await this.waitReady(replica)
    }
  }

  /** A new life in the replica's home (what a supervisor does after an exit). */
  spawn(replica: Replica): Gateway {
    replica.lives++
    replica.life = this.sandbox.run(replica.home, this.env, `replica ${replica.index} life ${replica.lives}`)
    return replica.life
  }

  /** Until this life answers /readyz 200 on the replica's port; fails at once if it exits. */
  async waitReady(replica: Replica, timeoutMs = 60_000): Promise<void> {
    const life = replica.life
    const deadline = Date.now() + timeoutMs
    const ready = async () => life.alive && replica.home.readState()?.pid === life.pid && (await readyz(replica.port).catch(() => 0)) === 200
    while (!(await ready())) {
      if (!life.alive) {
        const exit = await life.exited
        throw new Error(`replica ${replica.index} life ${replica.lives} exited (${exit.code ?? exit.signal}) before ready\n${life.describe()}`)
      }
      if (Date.now() >= deadline) throw new Error(`replica ${replica.index} not ready after ${timeoutMs} ms\n${life.describe()}`)
      await sleep(50)
    }
  }

  /** `hermes gateway stop --home H`; resolves with the CLI's and the daemon's exit codes. */
  async stopPlanned(replica: Replica): Promise<{ readonly cli: number | null; readonly daemon: number | null; readonly stderr: string }> {
    const life = replica.life
    const stop = await this.sandbox.cli(["gateway", "stop", "--home", replica.home.dir], {}, 60_000)
    const exit = await life.waitExit(60_000)
    return { cli: stop.code, daemon: exit.code, stderr: stop.stderr }
  }

  /** SIGKILL, until the process is gone. */
  async kill(replica: Replica): Promise<void> {
    const life = replica.life
    life.signal("SIGKILL")
    await life.waitExit(30_000)
  }
}
