/** Alert-driven remediation as the API offers it (receivers, approvals). */
export interface AlertService {
  /** An Alertmanager webhook (version 4): one decision per firing alert. */
  receiveAlertmanager(payload: unknown, options: { signal?: AbortSignal }): Promise<readonly unknown[]>;
  /** Remediations waiting for approval. */
  pending(): Promise<readonly unknown[]>;
  /** Approves a pending remediation and carries it out. */
  approve(id: string, by: string): Promise<unknown>;
}
