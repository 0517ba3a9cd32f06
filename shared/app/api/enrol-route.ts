import { z } from 'zod';
import { enrol, EnrolRefusedError } from '../enrol.js';
import { ApiProblem, ProblemKind } from './problem.js';
import { defineRoute, HttpMethod, type Route } from './route.js';
import { problemSchema } from './schemas.js';

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
        if (e instanceof EnrolRefusedError) {
          const kind =
            e.refusal === 'NameNotAllowed' || e.refusal === 'UnsupportedNames' || e.refusal === 'NoNames'
              ? ProblemKind.Unprocessable
              : ProblemKind.BadRequest;
          throw new ApiProblem(kind, e.message, { cause: e });
        }
        throw e;
      }
    },
  }),
];
