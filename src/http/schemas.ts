// TypeBox schemas: one per request body and response. They validate input, make serialization fast,
// feed the OpenAPI document, and, for users, make it impossible to send a field that is not listed.
import { Type, type Static } from 'typebox'

export const PublicUserSchema = Type.Object(
  {
    username: Type.String(),
    email: Type.Union([Type.String(), Type.Null()]),
    full_name: Type.Union([Type.String(), Type.Null()]),
    disabled: Type.Boolean(),
  },
  { $id: 'PublicUser', description: 'A user as anyone outside Gatehouse may see it: never a password hash.' },
)

/** RFC 6749 §4.3.2 password grant, as form fields. Presence is checked in the route, in protocol order. */
export const TokenFormSchema = Type.Object(
  {
    grant_type: Type.Optional(Type.String({ maxLength: 64, description: "Must be 'password' when given" })),
    username: Type.Optional(Type.String({ maxLength: 256 })),
    password: Type.Optional(Type.String({ maxLength: 4_096, format: 'password' })),
    scope: Type.Optional(Type.String({ maxLength: 1_024, description: 'Space-separated scopes' })),
    client_id: Type.Optional(Type.String({ maxLength: 256 })),
    client_secret: Type.Optional(Type.String({ maxLength: 256, format: 'password' })),
  },
  { additionalProperties: true },
)
export type TokenForm = Static<typeof TokenFormSchema>

export const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
})

/** Every error body: FastAPI's `detail`, plus RFC 6749 `error` fields where the protocol defines them. */
export const ErrorSchema = Type.Object({
  detail: Type.String(),
  error: Type.Optional(Type.String()),
  error_description: Type.Optional(Type.String()),
})

export const ItemSchema = Type.Object({ item_id: Type.String(), owner: Type.String() })

export const HealthSchema = Type.Object({ status: Type.Literal('ok') })
