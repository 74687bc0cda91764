/** Anything with pg's `query({ text, values })`: a pg Client, PoolClient or Pool. */
export interface Queryable {
  query(config: {
    text: string;
    values?: unknown[];
    name?: string;
  }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}
