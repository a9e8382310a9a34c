// The part of node-postgres (`pg`, bundled with @effect/sql-pg, which ships no types for it) that the
// PostgreSQL SessionDB uses: a pool configured by us and handed to PgClient.fromPool.
declare module "pg" {
  export interface CustomTypesConfig {
    readonly getTypeParser: (oid: number, format?: string) => (value: string) => unknown
  }
  export interface PoolConfig {
    readonly connectionString?: string | undefined
    readonly max?: number | undefined
    readonly connectionTimeoutMillis?: number | undefined
    readonly idleTimeoutMillis?: number | undefined
    /** Sent as the session's statement_timeout (milliseconds). */
    readonly statement_timeout?: number | undefined
    /** Command-line options for the server session, e.g. `-c default_transaction_isolation=serializable`. */
    readonly options?: string | undefined
    readonly application_name?: string | undefined
    readonly keepAlive?: boolean | undefined
    readonly types?: CustomTypesConfig | undefined
    readonly [key: string]: unknown
  }
  export interface QueryResult {
    readonly rows: ReadonlyArray<Record<string, unknown>>
  }
  export class Pool {
    constructor(config?: PoolConfig)
    readonly options: PoolConfig
    readonly ending: boolean
    query(text: string, values?: ReadonlyArray<unknown>): Promise<QueryResult>
    end(): Promise<void>
    on(event: "error", listener: (error: Error) => void): this
  }
  export const types: {
    readonly getTypeParser: (oid: number, format?: string) => (value: string) => unknown
  }
}
