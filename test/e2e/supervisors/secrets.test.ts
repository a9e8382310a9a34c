// Secrets reach a supervised gateway through the home's gateway.env, which the generated
// definitions load (systemd EnvironmentFile=, the s6/runit run script). Measured with the HTTP
// adapter's Bearer key: set only in gateway.env, the running gateway must demand exactly it.
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { assertBuilt } from "../harness.js"
import { prepareService, type SupervisorUnderTest, waitUp } from "./conformance.js"
import { installUnavailable } from "./definitions.js"
import { runit } from "./runit.js"
import { s6 } from "./s6.js"
import { unavailable } from "./support.js"
import { systemdUser } from "./systemd.js"

beforeAll(assertBuilt)

const blockedInstall = await installUnavailable()

const statusOf = async (port: number, key?: string): Promise<number> =>
  (await fetch(`http://127.0.0.1:${port}/v1/models`, {
    headers: key === undefined ? {} : { authorization: `Bearer ${key}` }
  })).status

describe("secrets from <home>/gateway.env", () => {
  for (const sut of [systemdUser, s6, runit] as ReadonlyArray<SupervisorUnderTest>) {
    const missing = unavailable(sut.binaries) ?? blockedInstall
    it.skipIf(missing !== undefined)(`${sut.name}: the generated definition loads it into the gateway's environment`, async (ctx) => {
      const r = await prepareService(ctx, sut)
      const key = crypto.randomBytes(16).toString("hex")
      const envFile = path.join(r.home.dir, "gateway.env")
      fs.writeFileSync(envFile, `# secrets\nHERMES_ADAPTERS_HTTP_API_KEY=${key}\n`, { mode: 0o600 })
      await r.service.start()
      await waitUp(r)
      const port = r.home.readState()?.platforms?.http?.port as number
      expect(await statusOf(port), "no key: the key from gateway.env is required").toBe(401)
      expect(await statusOf(port, "wrong-key-wrong-key"), "a wrong key").toBe(401)
      expect(await statusOf(port, key), "the key from gateway.env").toBe(200)
    })
  }
})
