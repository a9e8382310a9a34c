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

const v2TurnDelivery = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // The platform's id of the inbound message (Telegram: update_id): a message seen again after a
  // crash between recording it and acknowledging it to the platform is recognised, not answered twice.
  yield* sql`ALTER TABLE turns ADD COLUMN external_id TEXT`
  // When the final answer of a push turn reached its chat; NULL while it has not (the backlog). Set
  // only on ended turns, whose status never changes again, so a delivered turn stays delivered.
  yield* sql`ALTER TABLE turns ADD COLUMN delivered_at TEXT`
  // The platform's message the answer is delivered into (Telegram: a placeholder's message_id):
  // delivering again after a crash edits that message rather than sending a second answer.
  yield* sql`ALTER TABLE turns ADD COLUMN reply_ref TEXT`
  // Turns that ended before this version had their answers handled by the life that ended them.
  yield* sql`UPDATE turns SET delivered_at = ended_at WHERE status IN ('completed', 'failed', 'interrupted')`
  // Unique per session (ids are per chat on every platform); turns without one are not constrained.
  yield* sql`CREATE UNIQUE INDEX turns_by_external_id ON turns (session_id, external_id) WHERE external_id IS NOT NULL`
  // The backlog read at every start: push turns not yet delivered (running, resume_pending, or ended
  // with the answer unsent). That is a handful of rows while the turns table grows for ever; the
  // partial index holds only them, so the query reads (and sorts) a handful of rows.
  yield* sql`CREATE INDEX turns_push_undelivered ON turns (started_at) WHERE delivery = 'push' AND delivered_at IS NULL`
})

const v3SystemMessages = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // A turn reads its session's system messages and its newest others, never the whole history
  // (ContextBound.ts). The newest come from the primary key, read backwards; the system messages
  // are few and usually at the start, and this partial index finds them without a scan.
  yield* sql`CREATE INDEX messages_system ON messages (session_id, seq) WHERE role = 'system'`
})

const v4TurnOwnersAndLeases = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // The replica that runs a turn (sessions.postgres.replica_id). Written by a PostgreSQL gateway,
  // which may share its database with other replicas; NULL on SQLite (one gateway, one owner) and
  // on turns begun before this version. Every write that ends or advances a turn checks it, so a
  // replica whose turn was taken over cannot end it a second time (src/replicas/).
  yield* sql`ALTER TABLE turns ADD COLUMN owner TEXT`
  // Recovery asks for the running turns of other replicas every few seconds: a handful of rows.
  yield* sql`CREATE INDEX turns_running_by_owner ON turns (owner) WHERE status = 'running'`
  // One row per replica: until expires_at_ms (the DATABASE's clock, epoch ms) its running turns are
  // its own; after it, another replica may recover them. The same table in SQLite stays empty.
  yield* sql`CREATE TABLE replica_leases (
    replica_id TEXT PRIMARY KEY NOT NULL,
    host TEXT NOT NULL,
    home TEXT NOT NULL,
    started_at TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL
  )`
})

const v5TelegramUpdates = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // The Telegram update ledger of replicas sharing one database (src/adapters/telegram/PgUpdateLedger.ts),
  // one row per bot, keyed by a keyed hash of its token (never the token): the acknowledged update id,
  // the handled ids above it (a JSON array), and the chat that asked for a /restart (JSON, or NULL).
  // A single gateway on SQLite keeps its ledger in telegram_offset.json and leaves this table empty.
  yield* sql`CREATE TABLE telegram_updates (
    bot_key TEXT PRIMARY KEY NOT NULL,
    acknowledged BIGINT NOT NULL DEFAULT 0,
    handled_above TEXT NOT NULL DEFAULT '[]',
    restart_notice TEXT,
    updated_at TEXT NOT NULL
  )`
})

export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_sessions_messages_turns": v1Sessions,
  "2_turn_delivery_and_external_ids": v2TurnDelivery,
  "3_system_messages_index": v3SystemMessages,
  "4_turn_owners_and_leases": v4TurnOwnersAndLeases,
  "5_telegram_updates": v5TelegramUpdates
}

export const latestSchemaVersion = Math.max(...Object.keys(migrations).map((key) => Number(key.split("_")[0])))

/** Applies what is missing, in one transaction; returns the migrations it ran ([] when up to date). */
export const migrate: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  MigrationError | SqlError,
  SqlClient.SqlClient
> = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: "schema_migrations" })
