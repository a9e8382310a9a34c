#!/usr/bin/env node
// Entry point: signal listeners first (before the heavy modules are evaluated), then Node's module
// compile cache, then the program itself, loaded as its own chunk so the cache covers it.
import "./EarlySignals.js"
import { enableCompileCache } from "./CompileCache.js"

enableCompileCache()
await import("./Main.js")
