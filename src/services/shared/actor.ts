// Who is behind a request or a command, as the use-cases record it in the audit log: the client's
// address and user agent, the name of whoever acted (a user, an admin, or `cli:<os user>`), and
// for a signed-in user acting on their own account, which user that is.

/** Where a request came from. */
export interface ClientInfo {
  ip: string | null
  userAgent: string | null
}

/** Someone acting: a signed-in user or admin (their username), or the CLI (`cli:<os user>`). */
export interface Actor extends ClientInfo {
  name: string
}

/** A signed-in user acting on their own account and sessions (Actor.name is their username). */
export interface SessionHolder extends Actor {
  userId: number
}
