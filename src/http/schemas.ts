// TypeBox schemas: one per request body and response. They validate input, make serialization fast,
// feed the OpenAPI document, and, for users, make it impossible to send a field that is not listed.
import { Type, type Static } from 'typebox'

export const PublicUserSchema = Type.Object(
  {
    username: Type.String(),
    email: Type.Union([Type.String(), Type.Null()]),
    full_name: Type.Union([Type.String(), Type.Null()]),
    disabled: Type.Boolean(),
    // Optional: routes of your own that answer a PublicUser built by hand keep working.
    email_verified: Type.Optional(
      Type.Boolean({
        description:
          'The address was verified by a link sent to it, or never needed to be (users from before, imported ones)',
      }),
    ),
  },
  { description: 'A user as anyone outside Gatehouse may see it: never a password hash.' },
)

/** RFC 7009 revocation request. */
export const RevokeFormSchema = Type.Object(
  {
    token: Type.Optional(Type.String({ maxLength: 8_192 })),
    token_type_hint: Type.Optional(
      Type.String({ maxLength: 64, description: "'refresh_token' or 'access_token'" }),
    ),
  },
  { additionalProperties: true },
)
export type RevokeForm = Static<typeof RevokeFormSchema>

/** RFC 7662 introspection request. */
export const IntrospectFormSchema = Type.Object(
  {
    token: Type.Optional(Type.String({ maxLength: 8_192 })),
    token_type_hint: Type.Optional(
      Type.String({ maxLength: 64, description: "'access_token' or 'refresh_token'" }),
    ),
  },
  { additionalProperties: true },
)

/** RFC 7662 §2.2: `active` always, the rest only for a live token. */
export const IntrospectionSchema = Type.Object({
  active: Type.Boolean(),
  sub: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  username: Type.Optional(Type.String()),
  token_type: Type.Optional(Type.String()),
  exp: Type.Optional(Type.Integer()),
  iat: Type.Optional(Type.Integer()),
  iss: Type.Optional(Type.String()),
  aud: Type.Optional(Type.String()),
  sid: Type.Optional(Type.String()),
})

export const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  refresh_token: Type.Optional(
    Type.String({
      description:
        'Single use: exchange it at /token with grant_type=refresh_token (none for client_credentials)',
    }),
  ),
  scope: Type.Optional(
    Type.String({ description: 'Granted scopes, when they differ from the requested ones' }),
  ),
})

/** Every error body: FastAPI's `detail`, plus RFC 6749 `error` fields where the protocol defines them. */
export const ErrorSchema = Type.Object({
  detail: Type.String(),
  error: Type.Optional(Type.String()),
  error_description: Type.Optional(Type.String()),
  max_age: Type.Optional(
    Type.Integer({
      description:
        'With `insufficient_user_authentication` (RFC 9470): how many seconds old a login may be; or send `current_password`',
    }),
  ),
})

/** Auth0's answer to a right password of a user with a second factor: continue with the mfa_token. */
export const MfaRequiredSchema = Type.Object({
  detail: Type.String(),
  error: Type.Literal('mfa_required'),
  error_description: Type.String(),
  mfa_token: Type.String({
    description: 'For the mfa-otp or mfa-recovery-code grant, within 5 minutes',
  }),
})

export const ItemSchema = Type.Object({ item_id: Type.String(), owner: Type.String() })

export const SessionSchema = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time', description: 'Last login or refresh' }),
  expires_at: Type.String({
    format: 'date-time',
    description: 'When it ends unless refreshed (idle timeout or absolute lifetime)',
  }),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  scope: Type.String(),
  current: Type.Boolean({ description: 'The session of the token making this request' }),
})

export const PasswordChangeSchema = Type.Object({
  current_password: Type.String({ minLength: 1, maxLength: 4_096, format: 'password' }),
  new_password: Type.String({ minLength: 1, maxLength: 4_096, format: 'password' }),
})

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()])
const Username = Type.String({ minLength: 1, maxLength: 150 })
const Password = Type.String({ minLength: 1, maxLength: 4_096, format: 'password' })
const Email = Type.String({ maxLength: 254, format: 'email' })
const FullName = Type.String({ maxLength: 256 })
const ScopeList = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64 })

/** POST /users (self-service registration). */
export const RegistrationSchema = Type.Object(
  {
    username: Username,
    password: Password,
    email: Type.Optional(Nullable(Email)),
    full_name: Type.Optional(Nullable(FullName)),
  },
  { additionalProperties: false },
)

/** What the admin API shows: the public fields and the granted scopes. */
export const AdminUserSchema = Type.Object({
  ...PublicUserSchema.properties,
  scopes: Type.Array(Type.String()),
})

export const AdminUserPageSchema = Type.Object({
  users: Type.Array(AdminUserSchema),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
})

export const AdminCreateUserSchema = Type.Object(
  {
    username: Username,
    password: Password,
    email: Type.Optional(Nullable(Email)),
    full_name: Type.Optional(Nullable(FullName)),
    disabled: Type.Optional(Type.Boolean()),
    scopes: Type.Optional(ScopeList),
  },
  { additionalProperties: false },
)

export const AdminPatchUserSchema = Type.Object(
  {
    email: Type.Optional(Nullable(Email)),
    full_name: Type.Optional(Nullable(FullName)),
    disabled: Type.Optional(Type.Boolean()),
    scopes: Type.Optional(Nullable(ScopeList)),
  },
  { additionalProperties: false, minProperties: 1 },
)

export const ProfileChangeSchema = Type.Object(
  {
    email: Type.Optional(Nullable(Email)),
    full_name: Type.Optional(Nullable(FullName)),
    current_password: Type.Optional({
      ...Password,
      description: 'Needed to change the e-mail address (where reset links go)',
    }),
  },
  { additionalProperties: false, minProperties: 1 },
)

export const NewPasswordSchema = Type.Object(
  { password: Password },
  { additionalProperties: false },
)

export const UserPageQuerySchema = Type.Object({
  q: Type.Optional(
    Type.String({
      maxLength: 256,
      description: 'Case-insensitive text in username, email or full name',
    }),
  ),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 }),
})

export const AuditEventSchema = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  type: Type.String(),
  outcome: Type.String(),
  username: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
  actor: Type.Union([Type.String(), Type.Null()], {
    description: 'Who acted: a username, `cli:<os user>`, or null when nobody signed in did',
  }),
})

export const AuditPageQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  before: Type.Optional(
    Type.Integer({
      minimum: 1,
      description: 'Page back from this event id (the previous page’s last id)',
    }),
  ),
})

/** The response of routes that answer 204 with no body. */
export const NoContent = { 204: { type: 'null', description: 'Done' } } as const

export const HealthSchema = Type.Object({ status: Type.Literal('ok') })
