/** Pod template annotations rekey sets to restart a controller's pods (Reloader's mechanism). */
export const RestartAnnotation = {
  RestartedAt: 'rekey/restartedAt',
  Versions: 'rekey/versions',
} as const;

interface TemplateOwnerLike {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly spec?: { readonly template?: { readonly metadata?: { readonly annotations?: Readonly<Record<string, string>> } } };
}

/** The versions hash a controller's pod template carries, if rekey restarted it before. */
export const templateVersions = (o: TemplateOwnerLike): string | undefined =>
  o.spec?.template?.metadata?.annotations?.[RestartAnnotation.Versions];

/**
 * The patch that restarts a controller's pods: two pod-template annotations, with the observed resourceVersion as a
 * precondition so two workers racing on the same hash restart once (the loser re-reads and finds the hash).
 * Valid as a strategic merge patch and as a JSON merge patch.
 */
export function restartPatch(observed: TemplateOwnerLike, versionsHash: string, at: Date): Record<string, unknown> {
  return {
    metadata: { ...(observed.metadata?.resourceVersion !== undefined && { resourceVersion: observed.metadata.resourceVersion }) },
    spec: {
      template: {
        metadata: { annotations: { [RestartAnnotation.RestartedAt]: at.toISOString(), [RestartAnnotation.Versions]: versionsHash } },
      },
    },
  };
}
