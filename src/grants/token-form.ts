// The token endpoint's form body, built from the grants' parameters: one optional string per name
// (which are required depends on grant_type, so each grant checks presence itself, in protocol
// order), the client authentication parameters that any request may carry, and any other parameter
// let through unread (RFC 6749 §3.2: unrecognized parameters are ignored).
import { Type, type TSchema, type TString, type TUnsafe } from 'typebox'
import type { Grant, TokenForm } from './grant.js'
import { ClientIdParameter, ClientSecretParameter } from './parameters.js'

/** Parameters of the endpoint rather than of a grant: every request may authenticate its client. */
const CLIENT_AUTHENTICATION: Readonly<Record<string, TString>> = {
  client_id: ClientIdParameter,
  client_secret: ClientSecretParameter,
}

/** Deep equality of two JSON schemas (a parameter two grants share must mean one thing). */
const sameSchema = (a: TSchema, b: TSchema) => JSON.stringify(a) === JSON.stringify(b)

export function buildTokenFormSchema(
  grants: readonly Grant[],
  defaultType: string,
): TUnsafe<TokenForm> {
  const readers = new Map<string, { schema: TString; grants: string[] }>()
  for (const grant of grants) {
    for (const [name, schema] of Object.entries(grant.parameters)) {
      const declared = CLIENT_AUTHENTICATION[name] ?? readers.get(name)?.schema
      if (declared && !sameSchema(declared, schema))
        throw new Error(
          `grant '${grant.type}' declares parameter '${name}' unlike another: share one schema (src/grants/parameters.ts)`,
        )
      if (name in CLIENT_AUTHENTICATION) continue
      const reader = readers.get(name) ?? { schema, grants: [] }
      reader.grants.push(grant.type)
      readers.set(name, reader)
    }
  }
  const types = grants.map((grant) =>
    grant.type === defaultType ? `\`${grant.type}\` (the default)` : `\`${grant.type}\``,
  )
  const properties: Record<string, TSchema> = {
    grant_type: Type.Optional(
      Type.String({ maxLength: 64, description: `One of ${types.join(', ')}` }),
    ),
  }
  for (const [name, { schema, grants: readBy }] of readers) {
    const { description = name } = schema as { description?: string }
    properties[name] = Type.Optional({
      ...schema,
      description: `${description}. Grants: ${readBy.join(', ')}`,
    })
  }
  for (const [name, schema] of Object.entries(CLIENT_AUTHENTICATION))
    properties[name] = Type.Optional({ ...schema })
  // Typed as the form the grants read: which parameters a request carries is for them to check.
  return Type.Unsafe<TokenForm>(Type.Object(properties, { additionalProperties: true }))
}
