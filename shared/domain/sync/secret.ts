/** What rekey writes: a Secret computed purely, written once. Values are plain text (adapters encode). */
export interface DesiredSecret {
  readonly name: string;
  readonly namespace: string;
  readonly type: 'kubernetes.io/tls' | 'Opaque';
  readonly data: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** A Secret as found in a cluster; `data` decoded to text. */
export interface ObservedSecret {
  readonly name: string;
  readonly namespace: string;
  readonly type: string;
  readonly data: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly resourceVersion?: string;
}

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'rekey';

/** The one test of whether rekey manages a Secret: it carries rekey's managed-by label. */
export const isManaged = (secret: Pick<ObservedSecret, 'labels'>): boolean => secret.labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
