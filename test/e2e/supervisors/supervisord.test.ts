// The gateway under a real, private supervisord instance with its generated definition.
import * as fs from "node:fs"
import { beforeAll, expect, it } from "vitest"
import { assertBuilt } from "../harness.js"
import { defineConformance, plainConfig, prepareService, requireSupervisor, waitUp } from "./conformance.js"
import { scenario } from "./matrix.js"
import { hermes, waitFor } from "./support.js"
import { supervisord, type SupervisordService } from "./supervisord.js"

beforeAll(assertBuilt)

defineConformance(supervisord, () => {
  // The default budget needs 40 s (hard deadline 35 s + 5 s). 37 s covers the hard deadline but not
  // the margin: the gateway warns at start and doctor fails; exactly 40 s is enough for both.
  for (const [stopwaitsecs, enough] of [[37, false], [40, true]] as const) {
    it(`stopwaitsecs=${stopwaitsecs} read from the running supervisord: ${enough ? "no warning, doctor ok" : "warning at start, doctor fails"}`, (ctx) =>
      scenario(ctx, "supervisord", [], async () => {
        await requireSupervisor(supervisord)
        // Debug level: the start-up reader also says when the timeout is long enough.
        const r = await prepareService(ctx, supervisord, { run: `${plainConfig}log:\n  level: debug\n` })
        const service = r.service as SupervisordService
        const program = fs.readFileSync(service.programFile, "utf8")
        expect(program).toMatch(/^stopwaitsecs=40$/m)
        fs.writeFileSync(service.programFile, program.replace(/^stopwaitsecs=40$/m, `stopwaitsecs=${stopwaitsecs}`))
        await service.start()
        await waitUp(r)

        const doctor = await hermes(["gateway", "doctor", "--home", r.home.dir])
        const line = doctor.stdout.split("\n").find((l) => /\bsupervisor\b/.test(l)) ?? ""
        expect(line, doctor.stdout).toContain(`supervisord stopwaitsecs of hermes-gateway is ${stopwaitsecs}s`)
        if (enough) {
          expect(doctor.code, doctor.stdout).toBe(0)
          expect(line).toMatch(/^ok\s/)
          await waitFor("the start-up reader's verdict", () =>
            /supervisord stopwaitsecs of hermes-gateway is long enough/.test(service.gatewayLog()), {
            timeoutMs: 15_000,
            context: () => service.gatewayLog().split("\n").slice(-10).join("\n")
          })
          expect(service.gatewayLog()).not.toMatch(/level=WARN.*stopwaitsecs/)
        } else {
          expect(doctor.code, doctor.stdout).toBe(1)
          expect(line).toMatch(/^FAIL\s.*is 37s, shorter than the 40s the shutdown budget needs \(hard deadline 35s \+ 5s\)/)
          await waitFor("the start-up warning naming 37s and 40s", () =>
            service.gatewayLog().split("\n").some((l) => /level=WARN/.test(l) && /stopwaitsecs of hermes-gateway is 37s/.test(l) && /40s/.test(l)), {
            timeoutMs: 15_000,
            context: () => service.gatewayLog().split("\n").slice(-10).join("\n")
          })
        }
      }))
  }
})
