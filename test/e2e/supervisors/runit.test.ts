// The gateway under a real, private runit instance with its generated definition.
import { beforeAll } from "vitest"
import { assertBuilt } from "../harness.js"
import { defineConformance } from "./conformance.js"
import { runit } from "./runit.js"

beforeAll(assertBuilt)

defineConformance(runit)
