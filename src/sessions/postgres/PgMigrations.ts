// The SessionDB schema in PostgreSQL's dialect: the same versions, tables, columns, constraints and
// indexes as Migrations.ts (SQLite), so the turn journal's SQL runs unchanged on both. Differences,
// each on purpose: "user" is quoted (a reserved word here); turns carry an explicit `rowid` identity
// column, standing in for SQLite's implicit rowid (the journal orders turns that started in the same
// millisecond by insertion); times stay ISO text, compared as text exactly like SQLite does.
// Versions are never edited once released; a new one goes into Migrations.ts (see pgMigrations below).
import * as Migrator from "@effect/sql/Migrator"
import type { MigrationError } from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { latestSchemaVersion, migrations as sqliteMigrations } from "../Migrations.js"

const v1Sessions = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    platform TEXT NOT NULL,
    chat_key TEXT NOT NULL,
    "user" TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended'))
  )`
  yield* sql`CREATE UNIQUE INDEX sessions_by_chat ON sessions (platform, chat_key)`
  yield* sql`CREATE INDEX sessions_by_activity ON sessions (updated_at)`
  yield* sql`CREATE TABLE turns (
    rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    inbound_seq INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'resume_pending', 'failed')),
    reason TEXT,
    delivery TEXT NOT NULL CHECK (delivery IN ('request_response', 'push')),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    interrupted_lives INTEGER NOT NULL DEFAULT 0
  )`
  yield* sql`CREATE INDEX turns_by_session ON turns (session_id)`
  yield* sql`CREATE INDEX turns_by_status ON turns (status)`
  yield* sql`CREATE TABLE messages (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    seq INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL,
    turn_id TEXT REFERENCES turns (id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
  )`
  yield* sql`CREATE INDEX messages_by_turn ON messages (turn_id)`
})

/**
 * Every version whose SQL is the same in both dialects comes from Migrations.ts as it is (2, 3 and 5:
 * columns, an UPDATE, partial indexes, the Telegram update ledger's table); a version that differs is overridden here under its own key
 * (1). A new version is added to Migrations.ts, and here only if PostgreSQL needs other SQL.
 */
export const pgMigrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  ...sqliteMigrations,
  "1_sessions_messages_turns": v1Sessions
}

export { latestSchemaVersion }

export const migrationsTable = "schema_migrations"

/**
 * The highest version recorded in the database, or 0 when it has no schema yet. Read before
 * migrating, so a database written by a newer binary is refused rather than half understood.
 */
export const recordedSchemaVersion = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const table = yield* sql<{ readonly present: string | null }>`SELECT to_regclass(${migrationsTable})::text AS present`
  if (table[0]?.present === null || table[0]?.present === undefined) return 0
  const rows = yield* sql<{ readonly version: number | null }>`SELECT MAX(migration_id) AS version FROM ${sql(migrationsTable)}`
  return Number(rows[0]?.version ?? 0)
})

/** Applies what is missing, in one transaction (the Migrator locks the table against a concurrent start). */
export const migratePg: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  MigrationError | SqlError,
  SqlClient.SqlClient
> = Migrator.make({})({ loader: Migrator.fromRecord(pgMigrations), table: migrationsTable })
