// The small synchronous contract both SQLite engines implement (node:sqlite, node-sqlite3-wasm), so
// the SqlClient layer above it never knows which engine runs, and the guard both drivers put around
// their connection. Errors are thrown, as the engines do; the SqlClient layer turns them into SqlError.
import { directorySyncAfterFirstCommit } from "./DatabaseFiles.js"

export type EngineName = "node:sqlite" | "node-sqlite3-wasm"

export const engineNames: ReadonlyArray<EngineName> = ["node:sqlite", "node-sqlite3-wasm"]

export type SqlValue = string | number | bigint | Uint8Array | null

export type SqlRow = Readonly<Record<string, unknown>>

export interface SqliteDriver {
  readonly engine: EngineName
  /** Absolute path of the database file. */
  readonly file: string
  /** Runs one statement with positional parameters; the rows it returns ([] for writes). */
  readonly query: (sql: string, params: ReadonlyArray<SqlValue>) => ReadonlyArray<SqlRow>
  /** Closes the connection; SQLite checkpoints the WAL into the main file as the last connection goes. */
  readonly close: () => void
}

/** What an engine's open connection offers its driver. */
export interface EngineConnection {
  readonly run: (sql: string, params: ReadonlyArray<SqlValue>) => ReadonlyArray<SqlRow>
  readonly close: () => void
}

/**
 * The driver over an engine's open connection, with what both engines need around it: statements
 * refused once it is closed, the directory fsynced after the first commit (SQLite fsyncs it when
 * it creates the WAL, not when it creates the main file), and a close that runs once.
 */
export const guardedDriver = (engine: EngineName, file: string, connection: EngineConnection): SqliteDriver => {
  let open = true
  const afterStatement = directorySyncAfterFirstCommit(file)
  return {
    engine,
    file,
    query: (sql, params) => {
      if (!open) throw new Error(`the database ${file} is closed`)
      const rows = connection.run(sql, params)
      afterStatement(sql)
      return rows
    },
    close: () => {
      if (!open) return
      open = false
      connection.close()
    }
  }
}

/** What @effect/sql hands the driver, narrowed to what SQLite can bind. */
export const toSqlValue = (value: unknown): SqlValue => {
  if (value === undefined || value === null) return null
  if (typeof value === "boolean") return value ? 1 : 0
  if (typeof value === "string" || typeof value === "number" || typeof value === "bigint") return value
  if (value instanceof Uint8Array) return value
  if (value instanceof Date) return value.toISOString()
  return JSON.stringify(value)
}

export const describeSqliteError = (cause: unknown): string =>
  cause instanceof Error ? cause.message : String(cause)

/**
 * SQLITE_CORRUPT (11) and SQLITE_NOTADB (26), as node:sqlite reports them (errcode) or as their
 * messages read in both engines. Only these mean "the file is damaged"; a locked or full disk
 * is not corruption and must never move the user's data aside.
 */
export const isCorruptionError = (cause: unknown): boolean => {
  const code = typeof cause === "object" && cause !== null && "errcode" in cause ? Number(cause.errcode) & 0xff : undefined
  if (code === 11 || code === 26) return true
  return /file is not a database|database disk image is malformed|malformed database schema|SQLITE_CORRUPT|SQLITE_NOTADB/i
    .test(describeSqliteError(cause))
}
