// The gateway under a real, private supervisord instance with its generated definition.
import { beforeAll } from "vitest"
import { assertBuilt } from "../harness.js"
import { defineConformance } from "./conformance.js"
import { supervisord } from "./supervisord.js"

beforeAll(assertBuilt)

defineConformance(supervisord)
