// The gateway in a docker-style container stand-in with tini as PID 1 (compose's `init: true`),
// from the generated docker definition.
import { beforeAll } from "vitest"
import { assertBuilt } from "../harness.js"
import { defineConformance } from "./conformance.js"
import { dockerStandIn } from "./container.js"

beforeAll(assertBuilt)

defineConformance(dockerStandIn("tini", ["tini", "--"]))
