// What a test runs as another user (nobody, or a gateway's own unprivileged user) must be readable
// by that user. A checkout under a 0700 directory (CI clones into `mktemp -d`) is not, so such tests
// run a copy: the bundle (and its SessionDB worker), the one package it loads at run time (node-sqlite3-wasm) and the fixture
// scripts they name, in a fresh 0755 directory that the test file removes when it is done.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { hermesJs } from "./harness.js"

const repo = fileURLToPath(new URL("../..", import.meta.url))

export interface ReadableInstall {
  /** dist/hermes.js of the copy. */
  readonly hermesJs: string
  /** A file of test/e2e/fixtures in the copy. */
  readonly fixture: (name: string) => string
  readonly remove: () => void
}

const copyTree = (from: string, to: string): void => {
  fs.cpSync(from, to, { recursive: true, dereference: true })
  // Whatever the umask of the test run, every directory is searchable and every file readable.
  const open = (entry: string): void => {
    const stat = fs.statSync(entry)
    fs.chmodSync(entry, stat.isDirectory() ? 0o755 : 0o644)
    if (stat.isDirectory()) for (const name of fs.readdirSync(entry)) open(path.join(entry, name))
  }
  open(to)
}

/** Copies what other users run; call `remove` in afterAll. */
export const makeReadableInstall = (fixtures: ReadonlyArray<string> = []): ReadableInstall => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-readable-"))
  fs.chmodSync(dir, 0o755)
  // The whole build: the entry, the SessionDB worker's entry beside it, and the chunks both load.
  copyTree(path.dirname(hermesJs), path.join(dir, "dist"))
  fs.chmodSync(path.join(dir, "dist"), 0o755)
  copyTree(path.join(repo, "node_modules", "node-sqlite3-wasm"), path.join(dir, "node_modules", "node-sqlite3-wasm"))
  fs.chmodSync(path.join(dir, "node_modules"), 0o755)
  for (const name of fixtures) {
    copyTree(path.join(repo, "test", "e2e", "fixtures", name), path.join(dir, "fixtures", name))
  }
  if (fixtures.length > 0) fs.chmodSync(path.join(dir, "fixtures"), 0o755)
  return {
    hermesJs: path.join(dir, "dist", "hermes.js"),
    fixture: (name) => path.join(dir, "fixtures", name),
    remove: () => fs.rmSync(dir, { recursive: true, force: true })
  }
}
