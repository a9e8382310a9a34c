// What the container definitions (docker, kubernetes) share: the image's paths, how its health is
// probed without curl (slim images have none), and the environment that makes the gateway reachable.
import { containerEntry, containerHome, defaultHttpPort } from "../Definition.js"

/** node 20's fetch; the port follows the same override the gateway itself reads. */
export const healthProbe: ReadonlyArray<string> = [
  "node",
  "-e",
  `fetch("http://127.0.0.1:" + (process.env.HERMES_ADAPTERS_HTTP_PORT || ${defaultHttpPort}) + "/healthz")` +
  ".then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
]

export const gatewayCommand: ReadonlyArray<string> = ["node", containerEntry]

export const gatewayArguments: ReadonlyArray<string> = ["gateway", "run", "--home", containerHome]

/** A listener on 0.0.0.0 demands an API key (CONTRACT 7), so both come together. */
export const listenEverywhere = "0.0.0.0"
