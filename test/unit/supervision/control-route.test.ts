// stop/restart go through the owning supervisor (CONTRACT 8), always after the marker.
import { describe, expect, it } from "@effect/vitest"
import { controlRoute } from "../../../src/supervision/ControlRoute.js"

describe("control route", () => {
  it("no supervisor, or one that acts on exit codes: marker + SIGTERM", () => {
    for (const supervisor of [null, { kind: "docker", unit: "c1", control: null }, { kind: "hermes-restart-parent", unit: null, control: null }]) {
      expect(controlRoute(supervisor, "stop")).toMatchObject({ marker: "stop", command: null, signal: "SIGTERM" })
      expect(controlRoute(supervisor, "restart")).toMatchObject({ marker: "restart", command: null })
    }
  })
  it("systemd uses systemctl in the manager's scope", () => {
    expect(controlRoute({ kind: "systemd", unit: "hermes-gateway.service", control: { scope: "user" } }, "stop").command)
      .toEqual(["systemctl", "--user", "stop", "hermes-gateway.service"])
  })
  it("systemd restart: restart marker, then SIGTERM to the main process through systemd, which restarts the exit 75 itself", () => {
    expect(controlRoute({ kind: "systemd", unit: "hermes-gateway.service", control: { scope: "system" } }, "restart"))
      .toMatchObject({ marker: "restart", command: ["systemctl", "kill", "--kill-who=main", "--signal=SIGTERM", "hermes-gateway.service"] })
    expect(controlRoute({ kind: "systemd", unit: "hermes-gateway.service", control: { scope: "user" } }, "restart").command)
      .toEqual(["systemctl", "--user", "kill", "--kill-who=main", "--signal=SIGTERM", "hermes-gateway.service"])
  })
  it("s6, runit and supervisord: their own down/restart commands, with the marker written first", () => {
    expect(controlRoute({ kind: "s6", unit: "/srv/s6/hermes", control: null }, "stop")).toMatchObject({ marker: "stop", command: ["s6-svc", "-d", "/srv/s6/hermes"] })
    expect(controlRoute({ kind: "runit", unit: "/etc/sv/hermes", control: null }, "stop").command).toEqual(["sv", "down", "/etc/sv/hermes"])
    expect(controlRoute({ kind: "supervisord", unit: "hermes", control: { server_url: "unix:///tmp/s.sock" } }, "restart"))
      .toMatchObject({ marker: "restart", command: ["supervisorctl", "-s", "unix:///tmp/s.sock", "restart", "hermes"] })
  })
  it("a supervisor whose unit is unknown cannot be addressed: signal directly", () => {
    expect(controlRoute({ kind: "systemd", unit: null, control: null }, "stop").command).toBeNull()
  })
})
