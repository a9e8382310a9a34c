// The SessionDB schema as versioned @effect/sql migrations. A record, not a glob, so it works inside
// the bundle; a new version is a new key (`2_...`), never an edit of a released one.
import * as Migrator from "@effect/sql/Migrator"
import type { MigrationError } from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"

const v1Sessions = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // chat_key is the platform's conversation key; a session begun without one stores its own id,
  // so a client that sends that id back (X-Hermes-Session) continues the same session.
  yield* sql`CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    platform TEXT NOT NULL,
    chat_key TEXT NOT NULL,
    user TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended'))
  )`
  yield* sql`CREATE UNIQUE INDEX sessions_by_chat ON sessions (platform, chat_key)`
  yield* sql`CREATE INDEX sessions_by_activity ON sessions (updated_at)`
  // delivery is fixed when the turn begins, so recovery never depends on today's configuration.
  yield* sql`CREATE TABLE turns (
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

export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_sessions_messages_turns": v1Sessions
}

export const latestSchemaVersion = Math.max(...Object.keys(migrations).map((key) => Number(key.split("_")[0])))

/** Applies what is missing, in one transaction; returns the migrations it ran ([] when up to date). */
export const migrate: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  MigrationError | SqlError,
  SqlClient.SqlClient
> = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: "schema_migrations" })
