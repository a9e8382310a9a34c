// The gateway under a real (private, per-test) systemd user manager with its generated user unit.
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { beforeAll, expect, it, type TestContext } from "vitest"
import { assertBuilt } from "../harness.js"
import { defineConformance, exitCode, prepareService, requireSupervisor, waitExits } from "./conformance.js"
import { scenario } from "./matrix.js"
import { incarnationOf, signalIncarnation, sleep, waitFor } from "./support.js"
import { type SystemdService, systemdUser } from "./systemd.js"

beforeAll(assertBuilt)

/**
 * A Bot API that never answers: the gateway's Telegram adapter waits in its connect, so start-up
 * (and the unit's `activating` state, before READY=1) lasts until the test is done with it.
 * `asked` counts the requests that arrived: the first one proves start-up is being held.
 */
const startHeldBotApi = async (ctx: TestContext) => {
  const held: Array<http.ServerResponse> = []
  let asked = 0
  const server = http.createServer((_request, response) => {
    asked++
    held.push(response)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  ctx.onTestFinished(() =>
    new Promise<void>((resolve) => {
      for (const response of held) response.destroy()
      server.close(() => resolve())
    })
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked: () => asked }
}

/** The unit started with its start-up held in the Telegram connect, the gateway still `starting`. */
const startHeld = async (ctx: TestContext) => {
  await requireSupervisor(systemdUser)
  const botApi = await startHeldBotApi(ctx)
  const config = ["adapters:", "  http:", "    port: 0", "  telegram:", "    enabled: true", `    api_base_url: ${botApi.url}`, ""]
  const r = await prepareService(ctx, systemdUser, { install: config.join("\n") })
  const service = r.service as SystemdService
  await service.addDropIn("e2e-telegram-token", ["[Service]", "Environment=TELEGRAM_BOT_TOKEN=123456:E2E-held"])
  await service.start()
  await waitFor("the gateway's start-up held in the Telegram connect", () => botApi.asked() > 0, {
    timeoutMs: 20_000,
    context: () => service.gatewayLog().split("\n").slice(-10).join("\n")
  })
  const shown = await service.manager.show(service.unit, ["ActiveState", "SubState", "MainPID"])
  expect(shown, "the unit should still be activating").toMatchObject({ ActiveState: "activating", SubState: "start" })
  expect(r.home.readState()).toMatchObject({ gateway_state: "starting" })
  return { r, service, gateway: incarnationOf(Number(shown.MainPID)) }
}

defineConformance(systemdUser, () => {
  it("sd-stop-starting. `systemctl stop` while the unit is activating (ExecStop= skipped): exit 0, inactive, desired_state stopped", (ctx) =>
    scenario(ctx, "systemd", ["sd-stop-starting"], async () => {
      const { r, service } = await startHeld(ctx)

      const stop = await service.manager.systemctl(["stop", service.unit], 60_000)
      expect(stop.code, stop.stdout + stop.stderr).toBe(0)
      expect(await waitExits(r, 1)).toEqual([exitCode(0)])
      const shown = await service.manager.show(service.unit, ["ActiveState", "Result", "ExecMainStatus", "NRestarts"])
      expect(shown).toMatchObject({ ActiveState: "inactive", Result: "success", ExecMainStatus: "0", NRestarts: "0" })
      expect(service.results()).toEqual(["success"])
      expect(r.home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", exit_code: 0 })
      const shutdown = r.home.lifecycle().filter((e) => e.event === "shutdown")
      expect(shutdown).toHaveLength(1)
      expect(shutdown[0]).toMatchObject({ classification: "planned", signal: "SIGINT", exit_code: 0 })
      return { note: `stopped while activating: ${shutdown[0]?.exit_reason}, unit ${shown.ActiveState}/${shown.Result}` }
    }), 60_000)

  it("an unmarked SIGTERM from outside while the unit is activating stays unplanned: exit 1, restarted", (ctx) =>
    // No matrix cell of its own; scenario() only for the clean skip when systemd is missing.
    scenario(ctx, "systemd", [], async () => {
      const { r, gateway } = await startHeld(ctx)
      expect(gateway).toBeDefined()
      r.scratch.track(gateway)

      expect(signalIncarnation(gateway!, "SIGTERM")).toBe(true)
      expect((await waitExits(r, 1))[0]).toEqual(exitCode(1))
      // Restarted (into the same held start-up): a new main process, run-intent kept.
      await waitFor("a new gateway process", async () => {
        const now = await r.service.current()
        r.scratch.track(now)
        return now !== undefined && now.startTime !== gateway!.startTime
      }, { timeoutMs: 20_000 })
      expect(r.home.lifecycle().filter((e) => e.event === "shutdown")[0]).toMatchObject({ classification: "unplanned", exit_code: 1 })
      expect((r.service as SystemdService).results()[0]).toBe("exit-code")
    }), 60_000)

  it("sd-notify. Type=notify: the unit turns active only after the gateway's READY=1 (sent with systemd-notify once it runs)", (ctx) =>
    scenario(ctx, "systemd", ["sd-notify"], async () => {
      await requireSupervisor(systemdUser)
      const r = await prepareService(ctx, systemdUser)
      const service = r.service as SystemdService
      await service.start()

      // Sample the unit and the gateway's own state together until the unit is active.
      const samples: Array<{ active: string; sub: string; gateway: string }> = []
      const deadline = Date.now() + 20_000
      while (Date.now() < deadline) {
        const shown = await service.manager.show(service.unit, ["ActiveState", "SubState"])
        const gateway = String(r.home.readState()?.gateway_state ?? "none")
        samples.push({ active: shown.ActiveState!, sub: shown.SubState!, gateway })
        if (shown.ActiveState === "active" || shown.ActiveState === "failed") break
        await sleep(10)
      }
      const early = samples.filter((s) => s.active === "active" && s.gateway !== "running")
      expect(early, "active while the gateway was not running yet").toEqual([])
      expect(samples.at(-1)?.active).toBe("active")
      expect(samples.some((s) => s.active === "activating" && s.sub === "start"), JSON.stringify(samples.slice(0, 5))).toBe(true)

      const shown = await service.manager.show(service.unit, [
        "Type",
        "NotifyAccess",
        "MainPID",
        "StatusText",
        "ExecMainStartTimestampMonotonic",
        "ActiveEnterTimestampMonotonic"
      ])
      expect(shown).toMatchObject({ Type: "notify", NotifyAccess: "all", StatusText: `running (pid ${shown.MainPID})` })
      const waitedMs = (Number(shown.ActiveEnterTimestampMonotonic) - Number(shown.ExecMainStartTimestampMonotonic)) / 1000
      // node has to load the bundle, open the home and connect the adapter before READY=1.
      expect(waitedMs).toBeGreaterThan(100)
      return { note: `active ${waitedMs.toFixed(0)}ms after the process started, status "${shown.StatusText}"` }
    }))
})
