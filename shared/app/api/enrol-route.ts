import { z } from 'zod';
import { RenewalRefusal } from '../../domain/enrol/renewal.js';
import { REVOCATION_REASONS, RevocationReason } from '../../domain/enrol/record.js';
import type { EnrolProfile } from '../../domain/inventory/model.js';
import { enrol, EnrolRefusedError, renewEnrolment, RenewalRefusedError } from '../enrol.js';
import { enrolmentCrl, listEnrolled, revokeEnrolled } from '../enrol-revocation.js';
import type { Principal } from './auth.js';
import type { ApiBackend } from './backend.js';
import { ApiProblem, ProblemKind } from './problem.js';
import { defineRoute, HttpMethod, type Route } from './route.js';
import { itemName, problemSchema } from './schemas.js';
import { Scope } from './scopes.js';
import { defined } from '../../domain/defined.js';

const problem = (description: string) => ({ description, schema: problemSchema, contentType: 'application/problem+json' });

export const enrolRequestSchema = z
  .strictObject({
    profile: z.string().min(1).max(128).meta({ description: 'enrolment profile of the inventory' }),
    csr: z.string().min(1).max(65_536).meta({ description: 'PKCS#10 certificate request, PEM' }),
  })
  .meta({ id: 'EnrolRequest' });

export const enrolResponseSchema = z
  .object({
    certificate: z.string().meta({ description: 'the signed certificate, PEM' }),
    chain: z.string().meta({ description: 'intermediates, PEM (may be empty)' }),
    ca: z.string().meta({ description: 'trust bundle, PEM' }),
    serial: z.string(),
    notAfter: z.string(),
  })
  .meta({ id: 'Enrolled' });

export const revokeRequestSchema = z
  .strictObject({
    serial: z
      .string()
      .regex(/^[0-9A-Fa-f:]{1,128}$/, 'hex')
      .meta({ description: 'serial of the enrolled certificate, hex (colons allowed)' }),
    reason: z
      .enum(REVOCATION_REASONS as [RevocationReason, ...RevocationReason[]])
      .optional()
      .meta({ description: 'RFC 5280 CRLReason (default unspecified)' }),
  })
  .meta({ id: 'RevokeRequest' });

const revocationSchema = z.object({ at: z.string(), reason: z.string(), by: z.string() });

export const enrolledSchema = z
  .object({
    serial: z.string(),
    subject: z.string(),
    names: z.array(z.string()),
    requester: z.string(),
    at: z.string(),
    notAfter: z.string(),
    renewedFrom: z.string().optional(),
    revoked: revocationSchema.optional(),
  })
  .meta({ id: 'EnrolledCertificate' });

export const enrolledListSchema = z.object({ profile: z.string(), certificates: z.array(enrolledSchema) }).meta({ id: 'EnrolledList' });

/** The scope a token needs to revoke certificates of a profile. */
export const revokeScopeOf = (profile: string): string => `enrol:${profile}:revoke`;

function profileOf(backend: ApiBackend, name: string): EnrolProfile {
  const profile = backend.inventory.enrol?.find((p) => p.name === name);
  if (!profile) throw new ApiProblem(ProblemKind.NotFound, `no enrolment profile "${name}"`);
  return profile;
}

function requireProfileScope(principal: Principal | undefined, scope: string, what: string): Principal {
  if (!principal?.scopes.has(scope))
    throw new ApiProblem(ProblemKind.Forbidden, `${what} needs scope "${scope}"`, {
      headers: { 'www-authenticate': `Bearer realm="rekey", error="insufficient_scope", scope="${scope}"` },
    });
  return principal;
}

function csrProblem(e: EnrolRefusedError): ApiProblem {
  const kind =
    e.refusal === 'NameNotAllowed' || e.refusal === 'UnsupportedNames' || e.refusal === 'NoNames'
      ? ProblemKind.Unprocessable
      : ProblemKind.BadRequest;
  return new ApiProblem(kind, e.message, { cause: e });
}

/** 401 without a usable certificate, 403 when it is no proof under this profile, 422 when the names widen. */
function renewalProblem(e: RenewalRefusedError): ApiProblem {
  switch (e.refusal) {
    case RenewalRefusal.NoCertificate:
      return new ApiProblem(ProblemKind.Unauthorized, e.message, { cause: e });
    case RenewalRefusal.NotIssuedByProfile:
    case RenewalRefusal.NotYetValid:
    case RenewalRefusal.Expired:
    case RenewalRefusal.Revoked:
      return new ApiProblem(ProblemKind.Forbidden, e.message, { cause: e });
    case RenewalRefusal.NamesWidened:
      return new ApiProblem(ProblemKind.Unprocessable, e.message, { cause: e });
    default: {
      const never: never = e.refusal;
      throw new Error(`unknown refusal ${String(never)}`);
    }
  }
}

/**
 * POST /v1/enrol: a requester sends a CSR and a token holding the profile's `tokenScope`; the names and signature
 * are checked against the profile, the certificate is issued, recorded and returned with its chain.
 */
export const enrolRoutes: readonly Route[] = [
  defineRoute({
    operationId: 'enrol',
    method: HttpMethod.Post,
    path: '/v1/enrol',
    summary: "Sign a CSR under an enrolment profile (the token needs the profile's tokenScope)",
    authenticate: true,
    body: enrolRequestSchema,
    responses: {
      200: { description: 'issued', schema: enrolResponseSchema },
      400: problem('the CSR does not parse or its signature does not verify'),
      401: problem('missing or invalid token'),
      403: problem("the token lacks the profile's scope"),
      404: problem('no such enrolment profile'),
      422: problem('the CSR asks for names the profile does not allow'),
    },
    handle: async ({ backend, body, principal }) => {
      const profile = backend.inventory.enrol?.find((p) => p.name === body.profile);
      if (!profile) throw new ApiProblem(ProblemKind.NotFound, `no enrolment profile "${body.profile}"`);
      if (!principal?.scopes.has(profile.tokenScope)) {
        throw new ApiProblem(ProblemKind.Forbidden, `enrolment profile "${profile.name}" needs scope "${profile.tokenScope}"`, {
          headers: { 'www-authenticate': `Bearer realm="rekey", error="insufficient_scope", scope="${profile.tokenScope}"` },
        });
      }
      try {
        const issued = await enrol(backend.deps, backend.inventory, { profile, csrPem: body.csr, requester: principal.subject });
        return { status: 200, json: issued };
      } catch (e) {
        if (e instanceof EnrolRefusedError) throw csrProblem(e);
        throw e;
      }
    },
  }),
  defineRoute({
    operationId: 'renewEnrolment',
    method: HttpMethod.Post,
    path: '/v1/enrol/renew',
    summary: 'Renew with the current certificate as proof: it is the TLS client certificate (mTLS), no token',
    clientCertificate: true,
    body: enrolRequestSchema,
    responses: {
      200: { description: 'issued', schema: enrolResponseSchema },
      400: problem('the CSR does not parse or its signature does not verify'),
      401: problem('no client certificate was presented'),
      403: problem("the client certificate is not the profile's, has expired, or was revoked"),
      404: problem('no such enrolment profile'),
      422: problem('the CSR asks for names outside the current certificate or the profile'),
    },
    handle: async ({ backend, body, clientCertificate }) => {
      const profile = profileOf(backend, body.profile);
      try {
        const issued = await renewEnrolment(backend.deps, backend.inventory, { profile, csrPem: body.csr, clientCertificate });
        return { status: 200, json: issued };
      } catch (e) {
        if (e instanceof EnrolRefusedError) throw csrProblem(e);
        if (e instanceof RenewalRefusedError) throw renewalProblem(e);
        throw e;
      }
    },
  }),
  defineRoute({
    operationId: 'revokeEnrolled',
    method: HttpMethod.Post,
    path: '/v1/enrol/{profile}/revoke',
    summary: 'Revoke a certificate enrolled under a profile (scope enrol:<profile>:revoke): renewals with it are refused, the CRL lists it',
    authenticate: true,
    params: { profile: itemName },
    body: revokeRequestSchema,
    responses: {
      200: { description: 'revoked (again: unchanged)', schema: enrolledSchema },
      403: problem('the token lacks enrol:<profile>:revoke'),
      404: problem('no such profile, or no certificate of that serial under it'),
    },
    handle: async ({ backend, params, body, principal }) => {
      const profile = profileOf(backend, defined(params.profile));
      const who = requireProfileScope(principal, revokeScopeOf(profile.name), `revoking under "${profile.name}"`);
      const { record } = await revokeEnrolled(backend.deps, backend.inventory, {
        profile,
        serial: body.serial,
        reason: body.reason ?? RevocationReason.Unspecified,
        by: who.subject,
      });
      const { certificate: _c, fingerprint: _f, type: _t, profile: _p, ...shown } = record;
      return { status: 200, json: shown };
    },
  }),
  defineRoute({
    operationId: 'listEnrolled',
    method: HttpMethod.Get,
    path: '/v1/enrol/{profile}/certificates',
    summary: 'Certificates enrolled under a profile, newest first, with their revocation',
    scope: Scope.ItemsRead,
    params: { profile: itemName },
    responses: { 200: { description: 'the list', schema: enrolledListSchema }, 404: problem('no such enrolment profile') },
    handle: async ({ backend, params }) => {
      const profile = profileOf(backend, defined(params.profile));
      const records = await listEnrolled(backend.deps, backend.inventory.name, profile.name);
      const certificates = records.map(({ certificate: _c, fingerprint: _f, type: _t, profile: _p, ...shown }) => shown);
      return { status: 200, json: { profile: profile.name, certificates } };
    },
  }),
  defineRoute({
    operationId: 'enrolmentCrl',
    method: HttpMethod.Get,
    path: '/v1/enrol/{profile}/crl',
    summary: "The profile's certificate revocation list (DER, signed by its authority, valid 24 h); open, as CRLs are",
    params: { profile: itemName },
    responses: {
      200: { description: 'the CRL', contentType: 'application/pkix-crl' },
      404: problem('no such enrolment profile, or its authority is an external CA, which publishes the CRL (named in the detail)'),
    },
    handle: async ({ backend, params }) => {
      const profile = profileOf(backend, defined(params.profile));
      const answer = await enrolmentCrl(backend.deps, backend.inventory, profile);
      if (answer.kind === 'elsewhere')
        throw new ApiProblem(
          ProblemKind.NotFound,
          `profile "${profile.name}" is signed by authority "${profile.issuer}", an external CA: its CRL is published by ${answer.publisher}` +
            (answer.url ? ` at ${answer.url}` : ' (see the CRL Distribution Points of its certificates)') +
            '; revocations recorded here still refuse renewals',
        );
      return { status: 200, bytes: answer.der, contentType: 'application/pkix-crl' };
    },
  }),
];
