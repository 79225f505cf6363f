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
  { description: 'A user as anyone outside Gatehouse may see it: never a password hash.' },
)

/**
 * The token endpoint's form (RFC 6749 §4.3.2 password grant, §6 refresh grant). Which fields are
 * required depends on grant_type, so presence is checked in the route, in protocol order.
 */
export const TokenFormSchema = Type.Object(
  {
    grant_type: Type.Optional(Type.String({ maxLength: 64, description: "'password' (the default) or 'refresh_token'" })),
    username: Type.Optional(Type.String({ maxLength: 256, description: 'password grant' })),
    password: Type.Optional(Type.String({ maxLength: 4_096, format: 'password', description: 'password grant' })),
    refresh_token: Type.Optional(Type.String({ maxLength: 512, description: 'refresh_token grant' })),
    scope: Type.Optional(Type.String({ maxLength: 1_024, description: 'Space-separated scopes; default: all granted' })),
    client_id: Type.Optional(Type.String({ maxLength: 256 })),
    client_secret: Type.Optional(Type.String({ maxLength: 256, format: 'password' })),
  },
  { additionalProperties: true },
)
export type TokenForm = Static<typeof TokenFormSchema>

/** RFC 7009 revocation request. */
export const RevokeFormSchema = Type.Object(
  {
    token: Type.Optional(Type.String({ maxLength: 8_192 })),
    token_type_hint: Type.Optional(Type.String({ maxLength: 64, description: "'refresh_token' or 'access_token'" })),
  },
  { additionalProperties: true },
)
export type RevokeForm = Static<typeof RevokeFormSchema>

export const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  refresh_token: Type.String({ description: 'Single use: exchange it at /token with grant_type=refresh_token' }),
  scope: Type.Optional(Type.String({ description: 'Granted scopes, when they differ from the requested ones' })),
})

/** Every error body: FastAPI's `detail`, plus RFC 6749 `error` fields where the protocol defines them. */
export const ErrorSchema = Type.Object({
  detail: Type.String(),
  error: Type.Optional(Type.String()),
  error_description: Type.Optional(Type.String()),
})

export const ItemSchema = Type.Object({ item_id: Type.String(), owner: Type.String() })

export const SessionSchema = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time', description: 'Last login or refresh' }),
  expires_at: Type.String({ format: 'date-time', description: 'When it ends unless refreshed (idle timeout or absolute lifetime)' }),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  scope: Type.String(),
  current: Type.Boolean({ description: 'The session of the token making this request' }),
})

export const PasswordChangeSchema = Type.Object({
  current_password: Type.String({ minLength: 1, maxLength: 4_096, format: 'password' }),
  new_password: Type.String({ minLength: 1, maxLength: 4_096, format: 'password' }),
})

export const HealthSchema = Type.Object({ status: Type.Literal('ok') })
