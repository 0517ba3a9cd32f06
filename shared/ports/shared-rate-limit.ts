/**
 * Requests per client counted in fixed windows that every process of a deployment shares (the API's Lambda
 * containers), so a per-client limit holds however many containers answer.
 */
export interface SharedRateLimit {
  /**
   * Counts one request of `client` in the window that holds `nowMs`: 0 when it may go ahead; otherwise the seconds
   * until that window ends (Retry-After). A refused request is not counted.
   */
  take(client: string, nowMs: number): Promise<number>;
}
