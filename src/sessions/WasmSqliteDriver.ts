// node-sqlite3-wasm, the engine for Nodes without node:sqlite. Its VFS needs the guards measured in
// shared/notes/sqlite.md: WAL + locking_mode=EXCLUSIVE + synchronous=FULL (never a rollback journal:
// the VFS does not roll back a hot journal), a stale `<db>.lock` directory removed at open, and the
// directory fsynced after the first commit.
import * as fs from "node:fs"
import { databaseFiles } from "./DatabaseFiles.js"
import { guardedDriver, type SqliteDriver, type SqlRow, type SqlValue } from "./SqliteDriver.js"

interface WasmStatement {
  all(values?: ReadonlyArray<SqlValue>): Array<SqlRow>
  finalize(): void
}

interface WasmDatabase {
  all(sql: string, values?: ReadonlyArray<SqlValue>): Array<SqlRow>
  prepare(sql: string): WasmStatement
  close(): void
  readonly isOpen: boolean
}

export interface WasmSqliteModule {
  readonly Database: new(file: string, options?: { readonly fileMustExist?: boolean; readonly readOnly?: boolean }) => WasmDatabase
}

/**
 * Loaded on demand: compiling the WebAssembly costs about 190 ms and 68 MB, which a Node with
 * node:sqlite never pays. The package stays outside the bundle because it loads its .wasm from
 * its own folder.
 */
export const loadWasmSqlite = async (): Promise<WasmSqliteModule> => {
  const mod = (await import("node-sqlite3-wasm")) as unknown as WasmSqliteModule & { readonly default?: WasmSqliteModule }
  const resolved = typeof mod.Database === "function" ? mod : mod.default
  if (resolved === undefined || typeof resolved.Database !== "function") {
    throw new Error("node-sqlite3-wasm does not export Database")
  }
  return resolved
}

/** The most statements kept prepared on one connection. */
const statementCacheSize = 64

/**
 * Precondition: the caller holds the home's single-instance lock (the kernel opens the database
 * only after taking it; the CLI only when no gateway is alive). Only then is a `<db>.lock`
 * directory known to be stale rather than the live lock of another process.
 */
export const openWasmSqlite = (mod: WasmSqliteModule, file: string): SqliteDriver => {
  // Removed before every open: a killed process leaves it, and it blocks every later open.
  fs.rmSync(databaseFiles(file).lockDir, { recursive: true, force: true })
  const db = new mod.Database(file)
  // Statements stay prepared per SQL text (a turn runs the same few; preparing one in wasm costs
  // more than running it). The VFS heap is not garbage-collected, so every statement is finalized
  // by hand: when evicted, before the close, and when it fails (this engine cannot reset a
  // statement whose last step failed).
  const statements = new Map<string, WasmStatement>()
  const drop = (sql: string) => {
    const statement = statements.get(sql)
    if (statement === undefined) return
    statements.delete(sql)
    try {
      statement.finalize()
    } catch {
      // its failure was reported when it ran
    }
  }
  const driver = guardedDriver("node-sqlite3-wasm", file, {
    run: (sql, params) => {
      let statement = statements.get(sql)
      if (statement === undefined) {
        statement = db.prepare(sql)
        if (statements.size >= statementCacheSize) drop(statements.keys().next().value!)
        statements.set(sql, statement)
      }
      try {
        return statement.all(params)
      } catch (error) {
        drop(sql)
        throw error
      }
    },
    close: () => {
      for (const sql of Array.from(statements.keys())) drop(sql)
      db.close()
    }
  })
  try {
    // EXCLUSIVE before WAL: the WAL index then lives in process memory, not in a -shm file this VFS
    // cannot lock.
    const locking = driver.query("PRAGMA locking_mode = EXCLUSIVE", [])[0]?.locking_mode
    if (locking !== "exclusive") throw new Error(`cannot take ${file} in exclusive locking mode (got ${String(locking)})`)
    const mode = driver.query("PRAGMA journal_mode = WAL", [])[0]?.journal_mode
    if (mode !== "wal") throw new Error(`refusing to use ${file} without WAL (journal_mode is ${String(mode)}): rollback journals are not crash-safe on this engine`)
    driver.query("PRAGMA synchronous = FULL", [])
    const synchronous = driver.query("PRAGMA synchronous", [])[0]?.synchronous
    if (Number(synchronous) !== 2) throw new Error(`cannot set synchronous=FULL on ${file} (got ${String(synchronous)})`)
    driver.query("PRAGMA foreign_keys = ON", [])
  } catch (error) {
    driver.close()
    throw error
  }
  return driver
}
