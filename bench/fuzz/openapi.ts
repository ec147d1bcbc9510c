/** The hub's own OpenAPI document, read into the routes the fuzzer generates requests for. */

export type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  nullable?: boolean;
};

export type Security = 'bearer' | 'adminBearer' | 'siteApiKey' | undefined;

export interface Param {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: JsonSchema;
}

export interface RouteSpec {
  method: string;
  /** OpenAPI path with `{name}` placeholders. */
  path: string;
  params: Param[];
  body?: JsonSchema;
  security: Security;
  /** "POST /banking/v1/issuers/{issuerId}/..." : the label counts and failures are reported under. */
  label: string;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { parameters?: Param[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> }; security?: Record<string, unknown>[] }>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

/** Replaces every `$ref` by the schema it names (the hub's document only refers to components.schemas). */
function resolve(schema: JsonSchema | undefined, components: Record<string, JsonSchema>, depth = 0): JsonSchema | undefined {
  if (!schema || depth > 20) return schema;
  if (schema.$ref) return resolve(components[schema.$ref.split('/').pop() as string], components, depth + 1);
  const out: JsonSchema = { ...schema };
  if (schema.properties) out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, resolve(v, components, depth + 1) as JsonSchema]));
  if (schema.items) out.items = resolve(schema.items, components, depth + 1);
  if (schema.anyOf) out.anyOf = schema.anyOf.map((s) => resolve(s, components, depth + 1) as JsonSchema);
  if (schema.oneOf) out.oneOf = schema.oneOf.map((s) => resolve(s, components, depth + 1) as JsonSchema);
  return out;
}

export function routesOf(doc: OpenApiDocument): RouteSpec[] {
  const components = doc.components?.schemas ?? {};
  const routes: RouteSpec[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const json = op.requestBody?.content?.['application/json']?.schema;
      const scheme = op.security?.[0] ? (Object.keys(op.security[0])[0] as Security) : undefined;
      routes.push({
        method: method.toUpperCase(),
        path,
        params: (op.parameters ?? []).map((p) => ({ ...p, schema: resolve(p.schema, components) ?? {} })),
        body: resolve(json, components),
        security: scheme,
        label: `${method.toUpperCase()} ${path}`,
      });
    }
  }
  return routes;
}

export async function fetchRoutes(baseUrl: string): Promise<RouteSpec[]> {
  const res = await fetch(`${baseUrl}/docs/json`);
  if (!res.ok) throw new Error(`GET ${baseUrl}/docs/json answered ${res.status}`);
  return routesOf((await res.json()) as OpenApiDocument);
}
