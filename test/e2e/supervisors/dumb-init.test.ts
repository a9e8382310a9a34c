// The gateway in a docker-style container stand-in with dumb-init as PID 1 instead of docker's
// tini (the common `ENTRYPOINT ["dumb-init", "--", ...]` image), from the generated docker definition.
import { beforeAll } from "vitest"
import { assertBuilt } from "../harness.js"
import { defineConformance } from "./conformance.js"
import { dockerStandIn } from "./container.js"

beforeAll(assertBuilt)

defineConformance(dockerStandIn("dumb-init", ["dumb-init", "--"]))
