import type { SwaggerOptions } from '@fastify/swagger';

/** What @fastify/swagger is given: the document's head; the paths come from the routes' schemas. */
export const swaggerOptions: SwaggerOptions = {
  openapi: {
    openapi: '3.0.3',
    info: {
      title: 'Trackhub',
      version: '0.1.0',
      description: 'Card tracking hub: Issuer API (D1-compatible), Admin API and operations.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token from /authz/v1/oauth2/token' },
        adminBearer: { type: 'http', scheme: 'bearer', description: 'TRACKHUB_ADMIN_TOKEN' },
        siteApiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'Production site API key' },
      },
    },
  },
  refResolver: { buildLocalReference: (json, _base, _fragment, i) => (json.$id as string) ?? `def-${i}` },
};
