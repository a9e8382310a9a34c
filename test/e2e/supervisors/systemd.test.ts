// The gateway under a real (private, per-test) systemd user manager with its generated user unit.
import { beforeAll, expect, it } from "vitest"
import { assertBuilt } from "../harness.js"
import { defineConformance, prepareService, requireSupervisor } from "./conformance.js"
import { scenario } from "./matrix.js"
import { sleep } from "./support.js"
import { type SystemdService, systemdUser } from "./systemd.js"

beforeAll(assertBuilt)

defineConformance(systemdUser, () => {
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
