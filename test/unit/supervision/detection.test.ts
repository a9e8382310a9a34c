// Which supervisor owns the gateway, from evidence fixtures shaped like what each manager leaves
// behind (environment, /proc/self/cgroup, parent process), and the live gatherer that never throws.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { SupervisorInfo } from "../../../src/home/GatewayStateFile.js"
import {
  currentSupervisor,
  detectSupervisor,
  gatherEvidence,
  type SupervisorEvidence,
  systemdUnitOf
} from "../../../src/supervision/Detection.js"

const userUnitCgroup = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/hermes-gateway.service\n"
const systemUnitCgroup = "0::/system.slice/hermes-gateway.service\n"
const sessionCgroup = "0::/user.slice/user-1000.slice/session-4.scope\n"
const dockerV1Cgroup = [
  "12:pids:/docker/4f1c9d2e8a",
  "11:memory:/docker/4f1c9d2e8a",
  "1:name=systemd:/docker/4f1c9d2e8a",
  ""
].join("\n")
const kubeCgroup = "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12.slice/cri-containerd-ab.scope\n"

const evidence = (over: Partial<SupervisorEvidence> & { env?: Record<string, string> }): SupervisorEvidence => ({
  cgroup: sessionCgroup,
  parentName: "bash",
  parentCwd: "/home/me",
  cwd: "/home/me",
  containerFile: false,
  platform: "linux",
  uid: 1000,
  ...over,
  env: over.env ?? {}
})

describe("detectSupervisor", () => {
  it("a gateway started by hand in a terminal is unsupervised", () => {
    expect(detectSupervisor(evidence({}))).toBeNull()
  })

  it("systemd user unit: unit from the cgroup, user scope", () => {
    expect(detectSupervisor(evidence({
      env: { INVOCATION_ID: "3f2a", NOTIFY_SOCKET: "/run/user/1000/systemd/notify" },
      cgroup: userUnitCgroup,
      parentName: "systemd"
    }))).toEqual({ kind: "systemd", unit: "hermes-gateway.service", control: { scope: "user" } })
  })

  it("systemd system unit: unit from the cgroup, system scope; NOTIFY_SOCKET alone is enough", () => {
    expect(detectSupervisor(evidence({ env: { NOTIFY_SOCKET: "/run/systemd/notify" }, cgroup: systemUnitCgroup, parentName: "systemd", uid: 0 })))
      .toEqual({ kind: "systemd", unit: "hermes-gateway.service", control: { scope: "system" } })
  })

  it("systemd on cgroup v1 reads the name=systemd hierarchy", () => {
    const cgroup = "4:memory:/system.slice/hermes-gateway.service\n1:name=systemd:/system.slice/hermes-gateway.service\n"
    expect(detectSupervisor(evidence({ env: { INVOCATION_ID: "x" }, cgroup })))
      .toEqual({ kind: "systemd", unit: "hermes-gateway.service", control: { scope: "system" } })
  })

  it("INVOCATION_ID inherited into a terminal scope is a leftover, not a supervisor", () => {
    expect(detectSupervisor(evidence({ env: { INVOCATION_ID: "3f2a" }, cgroup: sessionCgroup }))).toBeNull()
  })

  it("INVOCATION_ID without a readable cgroup still means systemd, unit unknown", () => {
    expect(detectSupervisor(evidence({ env: { INVOCATION_ID: "3f2a" }, cgroup: undefined })))
      .toEqual({ kind: "systemd", unit: null, control: null })
  })

  it("supervisord: program (group:program when they differ) and the server URL to reach it", () => {
    const env = {
      SUPERVISOR_SERVER_URL: "unix:///tmp/supervisor.sock",
      SUPERVISOR_PROCESS_NAME: "hermes-gateway",
      SUPERVISOR_GROUP_NAME: "hermes-gateway",
      // supervisord itself ran under systemd: its children inherit this, supervisord still wins.
      INVOCATION_ID: "abc"
    }
    expect(detectSupervisor(evidence({ env, cgroup: "0::/system.slice/supervisor.service\n", parentName: "supervisord" })))
      .toEqual({ kind: "supervisord", unit: "hermes-gateway", control: { server_url: "unix:///tmp/supervisor.sock" } })
    expect(detectSupervisor(evidence({ env: { ...env, SUPERVISOR_GROUP_NAME: "chat" } }))?.unit).toBe("chat:hermes-gateway")
  })

  it("s6: parent s6-supervise, unit is its service directory, even when s6-svscan runs under systemd", () => {
    expect(detectSupervisor(evidence({
      env: { INVOCATION_ID: "abc" },
      cgroup: "0::/system.slice/s6.service\n",
      parentName: "s6-supervise",
      parentCwd: "/run/service/hermes-gateway",
      cwd: "/run/service/hermes-gateway"
    }))).toEqual({ kind: "s6", unit: "/run/service/hermes-gateway", control: null })
  })

  it("runit: parent runsv; an unreadable parent cwd falls back to our own", () => {
    expect(detectSupervisor(evidence({ parentName: "runsv", parentCwd: undefined, cwd: "/etc/sv/hermes-gateway" })))
      .toEqual({ kind: "runit", unit: "/etc/sv/hermes-gateway", control: null })
  })

  it("kubernetes: the service host variable or a kubepods cgroup; unit is the pod name", () => {
    expect(detectSupervisor(evidence({ env: { KUBERNETES_SERVICE_HOST: "10.0.0.1", HOSTNAME: "hermes-gateway-7d9f-x2" }, cgroup: "0::/\n", parentName: undefined })))
      .toEqual({ kind: "kubernetes", unit: "hermes-gateway-7d9f-x2", control: null })
    expect(detectSupervisor(evidence({ cgroup: kubeCgroup }))?.kind).toBe("kubernetes")
  })

  it("docker: /.dockerenv or a docker cgroup", () => {
    expect(detectSupervisor(evidence({ env: { HOSTNAME: "4f1c9d2e8a" }, cgroup: "0::/\n", containerFile: true })))
      .toEqual({ kind: "docker", unit: "4f1c9d2e8a", control: null })
    expect(detectSupervisor(evidence({ cgroup: dockerV1Cgroup }))?.kind).toBe("docker")
  })

  it("container evidence counts only for the container's main process, not a shell inside it", () => {
    expect(detectSupervisor(evidence({ env: { HOSTNAME: "4f1c9d2e8a" }, cgroup: "0::/\n", containerFile: true, containerMain: false })))
      .toBeNull()
    expect(detectSupervisor(evidence({ cgroup: kubeCgroup, containerMain: false }))).toBeNull()
    expect(detectSupervisor(evidence({ cgroup: kubeCgroup, containerMain: true }))?.kind).toBe("kubernetes")
  })

  it("launchd: a job's label in XPC_SERVICE_NAME on macOS; a Terminal's value is not one", () => {
    const mac = { platform: "darwin", cgroup: undefined, parentName: undefined, parentCwd: undefined, uid: 501 }
    expect(detectSupervisor(evidence({ ...mac, env: { XPC_SERVICE_NAME: "hermes-gateway" } })))
      .toEqual({ kind: "launchd", unit: "hermes-gateway", control: { domain: "gui/501" } })
    expect(detectSupervisor(evidence({ ...mac, uid: 0, env: { XPC_SERVICE_NAME: "hermes-gateway" } }))?.control)
      .toEqual({ domain: "system" })
    expect(detectSupervisor(evidence({ ...mac, env: { XPC_SERVICE_NAME: "0" } }))).toBeNull()
    expect(detectSupervisor(evidence({ ...mac, env: { XPC_SERVICE_NAME: "application.com.apple.Terminal.1" } }))).toBeNull()
    expect(detectSupervisor(evidence({ env: { XPC_SERVICE_NAME: "hermes-gateway" } }))).toBeNull()
  })

  it("HERMES_SUPERVISOR comes first, and the evidence still fills in unit and control", () => {
    // Exported by the generated s6 run script; the evidence agrees and names the directory.
    expect(detectSupervisor(evidence({ env: { HERMES_SUPERVISOR: "s6" }, parentName: "s6-supervise", parentCwd: "/srv/s6/hermes" })))
      .toEqual({ kind: "s6", unit: "/srv/s6/hermes", control: null })
    // Declared kind wins over contrary evidence (a docker container running a systemd-declared gateway).
    expect(detectSupervisor(evidence({ env: { HERMES_SUPERVISOR: "systemd" }, cgroup: systemUnitCgroup, containerFile: true })))
      .toEqual({ kind: "systemd", unit: "hermes-gateway.service", control: { scope: "system" } })
    expect(detectSupervisor(evidence({ env: { HERMES_SUPERVISOR: "systemd-system" }, cgroup: undefined })))
      .toEqual({ kind: "systemd", unit: null, control: { scope: "system" } })
    expect(detectSupervisor(evidence({ env: { HERMES_SUPERVISOR: "Nomad" } })))
      .toEqual({ kind: "nomad", unit: null, control: null })
  })

  it("HERMES_SUPERVISOR=none overrides any evidence", () => {
    expect(detectSupervisor(evidence({ env: { HERMES_SUPERVISOR: "none", INVOCATION_ID: "x" }, cgroup: systemUnitCgroup }))).toBeNull()
  })

  it("every answer fits the supervisor field of gateway_state.json", () => {
    const answers = [
      detectSupervisor(evidence({ env: { INVOCATION_ID: "x" }, cgroup: userUnitCgroup })),
      detectSupervisor(evidence({ env: { SUPERVISOR_SERVER_URL: "http://127.0.0.1:9001", SUPERVISOR_PROCESS_NAME: "h" } })),
      detectSupervisor(evidence({ parentName: "runsv" }))
    ]
    for (const answer of answers) expect(Schema.is(SupervisorInfo)(answer)).toBe(true)
  })
})

describe("systemdUnitOf", () => {
  it("takes the innermost unit, below delegated sub-cgroups too", () => {
    expect(systemdUnitOf("0::/system.slice/hermes-gateway.service/payload\n"))
      .toEqual({ name: "hermes-gateway.service", userManager: false })
    expect(systemdUnitOf(sessionCgroup)).toEqual({ name: "session-4.scope", userManager: false })
    expect(systemdUnitOf("0::/\n")).toBeNull()
    expect(systemdUnitOf("")).toBeNull()
  })
})

describe("live evidence", () => {
  it("gathers without throwing and decides something for this process", () => {
    const gathered = gatherEvidence()
    expect(gathered.env).toBe(process.env)
    expect(gathered.platform).toBe(process.platform)
    expect(() => detectSupervisor(gathered)).not.toThrow()
  })

  it.effect("currentSupervisor never fails", () =>
    Effect.gen(function*() {
      const found = yield* currentSupervisor
      expect(found === null || typeof found.kind === "string").toBe(true)
    }))
})
