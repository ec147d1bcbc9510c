import type { FastifyRequest } from 'fastify';
import { createScanner, SyntaxKind } from 'jsonc-parser';
import { ApiError } from '../domain/errors.ts';

type JsonParser = (req: FastifyRequest, text: string, done: (err: Error | null, body?: unknown) => void) => void;

/**
 * The JSON body parser, refusing an Admin API body that names a member twice (400 FIELD_INVALID_VALUE
 * naming it) rather than reading the last value (a replay's since given twice). The Issuer and Site
 * APIs' hot paths do not pay for the scan.
 */
export function refusingRepeatedAdminNames(parse: JsonParser): JsonParser {
  return (req, text, done) =>
    parse(req, text, (err, body) => {
      // The route's pattern, not req.url: the router decodes the path, so `/%61dmin/…` reaches an admin route.
      const repeated = err || !req.routeOptions.url?.startsWith('/admin/') ? undefined : repeatedMemberName(text);
      if (repeated !== undefined) done(new ApiError('FIELD_INVALID_VALUE', `${repeated}: is given more than once`), undefined);
      else done(err, body);
    });
}

/**
 * The first member name a JSON text's objects repeat (JSON.parse keeps the last one silently), or
 * undefined. `topLevelOnly`: only the outermost object's names (the token request's parameters).
 * jsonc-parser's scanner reads the text token by token, without recursion (a body nested 100,000 deep
 * must not overflow the stack), and decodes each name, so `"since"` and `"\u0073ince"` are the same
 * name, as they are to JSON.parse. Run on a text JSON.parse already took, so it is well formed.
 */
export function repeatedMemberName(text: string, opts: { topLevelOnly?: boolean } = {}): string | undefined {
  const scanner = createScanner(text, true);
  // One entry per open object or array: an object's names so far, or null for an array.
  const open: (Set<string> | null)[] = [];
  let nameNext = false;
  for (let token = scanner.scan(); token !== SyntaxKind.EOF; token = scanner.scan()) {
    switch (token) {
      case SyntaxKind.OpenBraceToken:
        // Top level only: a nested object's names are not counted (nor an object inside a top-level array).
        open.push(opts.topLevelOnly && open.length > 0 ? null : new Set());
        nameNext = open.at(-1) != null;
        break;
      case SyntaxKind.OpenBracketToken:
        open.push(null);
        nameNext = false;
        break;
      case SyntaxKind.CloseBraceToken:
      case SyntaxKind.CloseBracketToken:
        open.pop();
        nameNext = false;
        break;
      case SyntaxKind.CommaToken:
        nameNext = open.at(-1) != null;
        break;
      case SyntaxKind.StringLiteral: {
        const names = open.at(-1);
        if (nameNext && names) {
          const name = scanner.getTokenValue();
          if (names.has(name)) return name;
          names.add(name);
        }
        nameNext = false;
        break;
      }
      default:
        nameNext = false;
    }
  }
  return undefined;
}
