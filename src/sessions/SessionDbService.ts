// The open session database of one gateway life, as a service. The kernel's layer
// (src/lifecycle/SessionDbLayer.ts) opens it once the home lock is held and closes it as shutdown
// phase 7; everything that needs the database asks for this Tag instead of being handed the value.
import * as Context from "effect/Context"
import type { SessionDbService } from "./SessionDb.js"

export class SessionDatabase extends Context.Tag("hermes/SessionDatabase")<SessionDatabase, SessionDbService>() {}
