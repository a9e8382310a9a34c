// The part of node-postgres' Client (one connection, not a pool) that Telegram's leader election
// uses: a session-level advisory lock lives exactly as long as the connection that took it.
// Merged with the pool's declarations in src/sessions/postgres/pg.d.ts.
declare module "pg" {
  export interface Notification {
    readonly channel: string
    readonly payload?: string | undefined
  }
  export class Client {
    constructor(config?: PoolConfig)
    connect(): Promise<void>
    query(text: string, values?: ReadonlyArray<unknown>): Promise<QueryResult>
    end(): Promise<void>
    /** The socket; destroyed when a polite end() gets no answer. */
    readonly connection: { readonly stream: { destroy(): void } }
    on(event: "error", listener: (error: Error) => void): this
    on(event: "end", listener: () => void): this
    on(event: "notification", listener: (message: Notification) => void): this
  }
}
