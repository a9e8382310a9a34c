// The SQLite built into Node (node:sqlite, Node >= 22.13): real OS file locks, so only WAL,
// synchronous=FULL and a busy timeout are needed. Detected at run time; typed structurally because
// @types/node 20 does not describe the module.
import { guardedDriver, type SqliteDriver, type SqlRow, type SqlValue } from "./SqliteDriver.js"

interface StatementSync {
  all(...params: ReadonlyArray<SqlValue>): Array<SqlRow>
}

interface DatabaseSync {
  prepare(sql: string): StatementSync
  close(): void
}

interface NodeSqliteModule {
  readonly DatabaseSync: new(file: string, options?: { readonly enableForeignKeyConstraints?: boolean }) => DatabaseSync
}

/** The module, when this Node has it without flags; undefined on Node 20 and flag-gated 22.x. */
export const loadNodeSqlite = (): NodeSqliteModule | undefined => {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule
  if (typeof getBuiltin !== "function") return undefined
  try {
    const mod = getBuiltin.call(process, "node:sqlite") as Partial<NodeSqliteModule> | undefined
    return typeof mod?.DatabaseSync === "function" ? (mod as NodeSqliteModule) : undefined
  } catch {
    return undefined
  }
}

export interface NodeSqliteOptions {
  /** How long a statement waits for another connection's lock (the CLI reading while nothing else should run). */
  readonly busyTimeoutMs: number
}

/** Statements prepared once per SQL text: the journal runs the same few statements on every turn. */
const statementCacheSize = 64

export const openNodeSqlite = (mod: NodeSqliteModule, file: string, options: NodeSqliteOptions): SqliteDriver => {
  const db = new mod.DatabaseSync(file, { enableForeignKeyConstraints: true })
  const statements = new Map<string, StatementSync>()
  const prepare = (sql: string): StatementSync => {
    const cached = statements.get(sql)
    if (cached !== undefined) return cached
    const statement = db.prepare(sql)
    if (statements.size >= statementCacheSize) statements.delete(statements.keys().next().value!)
    statements.set(sql, statement)
    return statement
  }
  const driver = guardedDriver("node:sqlite", file, {
    run: (sql, params) => prepare(sql).all(...params),
    close: () => {
      statements.clear()
      db.close()
    }
  })
  try {
    const mode = driver.query("PRAGMA journal_mode = WAL", [])[0]?.journal_mode
    if (mode !== "wal") throw new Error(`cannot switch ${file} to WAL (journal_mode is ${String(mode)})`)
    driver.query("PRAGMA synchronous = FULL", [])
    driver.query(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`, [])
    driver.query("PRAGMA foreign_keys = ON", [])
  } catch (error) {
    driver.close()
    throw error
  }
  return driver
}
